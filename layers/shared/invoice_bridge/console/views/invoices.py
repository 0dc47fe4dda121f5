"""Invoices: the filtered list, one invoice (selection reason, PDF in the page, e-invoice, events) and the
actions on it (release, approve, retry; dismiss for admins), and the page of invoices waiting for the office."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from ... import wiring
from ...invoices import (
    InvalidTransition,
    ReleaseBusy,
    approve_invoice,
    dismiss_invoice,
    release_invoice,
    release_invoices,
    retry_invoice,
)
from ...models.invoice import AWAITING_APPROVAL, SEND_DELAY, Invoice, InvoiceStatus
from ...ports import ConflictError, NotFound, StoreBusy
from ..app import ADMIN, STAFF, ctx_of
from ..pages import Ctx
from ..queries import CHANNELS, InvoiceFilter, every_invoice, invoice_page
from ..web import redirect

router = Router()


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _filter(ctx: Ctx) -> InvoiceFilter:
    arg = ctx.request.arg
    status = arg("status") if arg("status") in {s.value for s in InvoiceStatus} else None
    channel = arg("channel") if arg("channel") in CHANNELS else None
    return InvoiceFilter(arg("issuer") or None, status, channel, _date(arg("from")), _date(arg("to")))


@router.get("/console/invoices", middlewares=[STAFF])
def list_invoices() -> Response[str]:
    ctx = ctx_of(router)
    wanted = _filter(ctx)
    try:
        found, next_cursor = invoice_page(wiring.invoice_repository(), wanted, ctx.request.arg("cursor") or None)
    except ValueError:  # a cursor that is not ours: start from the first page
        found, next_cursor = invoice_page(wiring.invoice_repository(), wanted, None)
    query = {k: ctx.request.arg(k) for k in ("issuer", "status", "channel", "from", "to")}
    return ctx.render(
        "invoices.html",
        invoices=found,
        query=query,
        filtered=any(query.values()),
        next_url=ctx.url("/console/invoices", cursor=next_cursor, **query) if next_cursor else None,
        first_url=ctx.url("/console/invoices", **query) if ctx.request.arg("cursor") else None,
        issuers={i.id: i for i in wiring.consent_services().issuers.list()},
        statuses=[s.value for s in InvoiceStatus],
        channels=CHANNELS,
    )


@router.get("/console/invoices/<invoice_id>", middlewares=[STAFF])
def show_invoice(invoice_id: str) -> Response[str]:
    ctx = ctx_of(router)
    invoices = wiring.invoice_repository()
    invoice = invoices.get(invoice_id)
    pdf_url = wiring.document_store().presign(invoice.pdf_key) if invoice.pdf_key else None
    decision = wiring.decision_store().get(invoice.integration_id, invoice.source_id)
    return ctx.render(
        "invoice.html",
        embeds=[pdf_url],
        invoice=invoice,
        issuer=wiring.consent_services().issuers.get(invoice.issuer_id),
        events=sorted(invoices.events(invoice_id), key=lambda e: e.at, reverse=True),
        decision=decision,
        pdf_url=pdf_url,
    )


@router.get("/console/invoices/<invoice_id>/einvoice", middlewares=[STAFF])
def download_einvoice(invoice_id: str) -> Response[str]:
    """To a short-lived link of the e-invoice that the browser saves as a file."""
    invoice = wiring.invoice_repository().get(invoice_id)
    if not invoice.einvoice_key:
        raise NotFound(f"invoice {invoice_id} has no e-invoice yet")
    return redirect(
        wiring.document_store().presign(invoice.einvoice_key, download_name=f"invoice-{invoice.number}.xml")
    )


def _user(ctx: Ctx) -> str:
    """Who acted, for the invoice's history: the signed-in console user."""
    if ctx.session is None:
        return "the office (console)"
    return f"{ctx.session.email or ctx.session.username} (console)"  # as the page header names the user


def _approve(ctx: Ctx, invoice_id: str) -> Invoice:
    return approve_invoice(invoice_id, invoices=wiring.invoice_repository(), issuers=wiring.consent_services().issuers,
                           dispatch_queue=wiring.dispatch_queue(), by=_user(ctx))


def _act(invoice_id: str, action: str) -> Response[str]:
    ctx = ctx_of(router)
    invoices = wiring.invoice_repository()
    try:
        if action == "release":
            invoice = release_invoice(invoice_id, invoices=invoices, dispatch_queue=wiring.dispatch_queue(),
                                      by=_user(ctx))
            ctx.say("ok", "released_one", number=invoice.number)
        elif action == "approve":
            invoice = _approve(ctx, invoice_id)
            waits = invoice.status == InvoiceStatus.HELD
            ctx.say("ok", "approved_one_waits" if waits else "approved_one", number=invoice.number)
        elif action == "retry":
            invoice = retry_invoice(invoice_id, invoices=invoices, render_queue=wiring.render_queue())
            ctx.say("ok", "retried", number=invoice.number)
        else:
            invoice = dismiss_invoice(invoice_id, invoices=invoices)
            ctx.say("ok", "dismissed", number=invoice.number)
    except InvalidTransition as exc:
        ctx.say("error", "action_refused", message=str(exc))
    except ConflictError:  # a new version arrived while the page was open: look at it again
        ctx.say("error", "changed_meanwhile")
    except StoreBusy:  # nothing was written: the same click works in a moment
        ctx.say("error", "busy_nothing_changed")
    return ctx.back(f"/console/invoices/{invoice_id}")


@router.post("/console/invoices/<invoice_id>/release", middlewares=[STAFF])
def release(invoice_id: str) -> Response[str]:
    return _act(invoice_id, "release")


@router.post("/console/invoices/<invoice_id>/approve", middlewares=[STAFF])
def approve(invoice_id: str) -> Response[str]:
    return _act(invoice_id, "approve")


@router.post("/console/invoices/<invoice_id>/retry", middlewares=[STAFF])
def retry(invoice_id: str) -> Response[str]:
    return _act(invoice_id, "retry")


@router.post("/console/invoices/<invoice_id>/dismiss", middlewares=[ADMIN])
def dismiss(invoice_id: str) -> Response[str]:
    return _act(invoice_id, "dismiss")


def _each_checked(ctx: Ctx, act: Callable[[str], object], done: str) -> Response[str]:
    """`act` on every checked invoice; one message for those done, one for each refused."""
    chosen = ctx.request.form().all("invoice_id")
    succeeded, refused, busy = 0, [], 0
    for invoice_id in chosen:
        try:
            act(invoice_id)
            succeeded += 1
        except InvalidTransition as exc:
            refused.append(str(exc))
        except ConflictError:
            refused.append(ctx.t["changed_meanwhile"])
        except StoreBusy:
            busy += 1
    if not chosen:
        ctx.say("error", "nothing_selected")
    if succeeded:
        ctx.say("ok", done, n=succeeded)
    for message in refused:
        ctx.say("error", "action_refused", message=message)
    if busy:
        ctx.say("error", "busy_not_done", n=busy)
    return ctx.back("/console/approvals")


@router.post("/console/invoices/release", middlewares=[STAFF])
def release_many() -> Response[str]:
    """Release every checked invoice (the reconciliation list and the approvals page)."""
    ctx = ctx_of(router)
    chosen = ctx.request.form().all("invoice_id")
    if not chosen:
        ctx.say("error", "nothing_selected")
        return ctx.back("/console/approvals")
    # Read together and handed on together (release_invoices); each released on its own condition.
    try:
        result = release_invoices(chosen, invoices=wiring.invoice_repository(),
                                  dispatch_queue=wiring.dispatch_queue(), by=_user(ctx))
    except ReleaseBusy as busy:  # those written are released all the same; the rest wait for a new click
        result = busy.released
        ctx.say("error", "busy_not_done", n=len(busy.not_written))
    if result.released:
        ctx.say("ok", "released", n=len(result.released))
    for message in [*result.refused.values(), *(ctx.t["changed_meanwhile"] for _ in result.changed)]:
        ctx.say("error", "action_refused", message=message)
    return ctx.back("/console/approvals")


@router.post("/console/invoices/approve", middlewares=[STAFF])
def approve_many() -> Response[str]:
    """Approve every checked invoice waiting for approval."""
    ctx = ctx_of(router)
    return _each_checked(ctx, lambda invoice_id: _approve(ctx, invoice_id), "approved")


@router.get("/console/approvals", middlewares=[STAFF])
def approvals() -> Response[str]:
    """What waits for the office: invoices waiting for approval (issuers with `sending: approve`; approve),
    the first fetch's and other review holds (release); and, for information, those waiting for their
    send delay (they go out by themselves)."""
    ctx = ctx_of(router)
    invoices = wiring.invoice_repository()
    held = every_invoice(invoices, status="held")
    held.sort(key=lambda i: (i.issuer_id, i.issue_date, i.number))
    return ctx.render(
        "approvals.html",
        to_approve=invoices.waiting_for_approval(),
        to_release=[i for i in held if i.status_reason not in (AWAITING_APPROVAL, SEND_DELAY)],
        delayed=sorted((i for i in held if i.status_reason == SEND_DELAY), key=lambda i: i.send_at or i.updated_at),
        issuers={i.id: i for i in wiring.consent_services().issuers.list()},
    )
