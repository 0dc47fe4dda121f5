"""Channel policy: e-invoice when the buyer is reachable, else e-mail, else a printed letter."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ..models.invoice import Channel, Invoice, Party
from ..models.issuer import Issuer
from ..ports import Operator, Receiver


@dataclass(frozen=True)
class Route:
    """The chosen channel and who it goes to (EIA, e-mail address or postal name)."""

    channel: Channel
    recipient: str


@dataclass(frozen=True)
class NoChannel:
    """No channel can deliver this invoice; `reason` says why, for the issuer's failure e-mail."""

    reason: str  # English, for logs and the admin API
    causes: tuple[str, ...] = ()  # codes the notification templates translate
    code: str = "no_channel"


def choose_channel(
    issuer: Issuer, invoice: Invoice, receiver: Receiver | None, *, operator_available: bool = True
) -> Route | NoChannel:
    """An invoice without an e-invoice document (`einvoice_key` None: render made none, for a private person or a
    buyer without an electronic address) is never offered as an e-invoice, whatever the operator's lookup says."""
    buyer = invoice.buyer
    has_einvoice = invoice.einvoice_key is not None
    if receiver is not None and operator_available and has_einvoice:
        return Route("einvoice", receiver.eia)
    if buyer.email and issuer.dispatch.email_fallback:
        return Route("email", buyer.email)
    # The operator prints the PDF carried inside the e-invoice document, so a letter needs one (for now).
    if issuer.dispatch.print_fallback and operator_available and _has_postal_address(buyer) and has_einvoice:
        return Route("print", buyer.name)
    causes = ["not_reachable" if operator_available else "no_operator"]
    if not has_einvoice:
        causes[0] = "not_an_einvoice"
    if not buyer.email:
        causes.append("no_email")
    elif not issuer.dispatch.email_fallback:
        causes.append("email_fallback_off")
    if not issuer.dispatch.print_fallback:
        causes.append("print_fallback_off")
    elif not operator_available:
        causes.append("print_needs_operator")
    elif not _has_postal_address(buyer):
        causes.append("no_postal_address")
    elif not has_einvoice:
        causes.append("print_needs_einvoice")
    return NoChannel("; ".join(CAUSES_EN[c] for c in causes), tuple(causes))


CAUSES_EN = {
    "not_reachable": "the buyer cannot receive e-invoices",
    "no_operator": "no e-invoice operator is set up",
    "no_email": "the buyer has no e-mail address",
    "email_fallback_off": "e-mail fallback is turned off",
    "print_fallback_off": "print fallback is turned off",
    "print_needs_operator": "printing needs an e-invoice operator",
    "no_postal_address": "the buyer has no complete postal address",
    "not_an_einvoice": "the invoice cannot be an e-invoice (a private person, or a buyer without an electronic address)",
    "print_needs_einvoice": "letters are printed from the e-invoice document, which this invoice cannot have",
}


def _has_postal_address(buyer: Party) -> bool:
    address = buyer.address
    return bool(address.street and address.postal_code and address.city)


_LOOKUP_TTL_SECONDS = 3600.0
_lookups: dict[tuple[str, str | None, str | None], tuple[Receiver | None, float]] = {}
_lookups_lock = threading.Lock()


def find_receiver(operator: Operator, issuer_id: str, buyer: Party) -> Receiver | None:
    """Operator receiver lookup by org number or GLN, cached for an hour per (issuer, buyer ids)."""
    if not buyer.org_number and not buyer.gln:
        return None
    key = (issuer_id, buyer.org_number, buyer.gln)
    with _lookups_lock:
        cached = _lookups.get(key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
    receiver = operator.lookup_receiver(buyer.org_number, buyer.gln)
    with _lookups_lock:
        _lookups[key] = (receiver, time.monotonic() + _LOOKUP_TTL_SECONDS)
    return receiver


def clear_lookup_cache() -> None:
    with _lookups_lock:
        _lookups.clear()


def deliverability_problems(issuer: Issuer, *, has_operator: bool) -> list[str]:
    """Why these dispatch settings cannot deliver (empty: they can). Enabling an integration is refused
    while this is non-empty, so invoices do not pile up as failures. Messages are English, for the API."""
    settings = issuer.dispatch
    problems: list[str] = []
    if not has_operator and not settings.email_fallback:
        problems.append(
            "no channel can deliver: there is no e-invoice operator account and e-mail fallback is off"
        )
    if settings.print_fallback and not has_operator:
        problems.append("print fallback needs an e-invoice operator account: letters are printed by the operator")
    if settings.print_fallback and has_operator and not settings.attach_pdf:
        problems.append(
            "print fallback needs attach_pdf on: the operator prints the PDF carried in the e-invoice"
        )
    return problems
