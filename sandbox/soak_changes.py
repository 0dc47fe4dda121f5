"""The soak's source-side trouble: invoices edited, paid and credited in Spiris while they are on their way,
and malformed invoices among the good ones (issue 12, "Must show").

`SourceChanges` plans a change for a share of the seeded invoices (edit, pay or credit, in turn) and the
stage of the pipeline it is made at (in turn): while the invoice is `held` for the office's review, while
it waits in a queue (`queued` / `rendered`), right before its render handler runs (`rendering`) or right
before its dispatch handler runs (`sending`). It makes each change through the Spiris sandbox's control
routes, as the office would in Spiris, and then reads the invoice's status in our table: a change made
while the invoice was not yet claimed for sending (held, queued, rendered) must win, since the sync or the
fresh look before sending reads Spiris after it. A change made once dispatch had claimed the version may
come too late (the invoice had already gone out); those are counted apart.

`seed_malformed` seeds source invoices that cannot be read or mapped (the kinds of issue 12 §4); each must
be parked (GET /failures `source_invoices`) and its issuer told.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from .onboarding import post_json
from .seed import RowSpec, invoice, stockholm_today
from .spiris.jsonutil import dumps

CHANGE_KINDS = ("edit", "pay", "credit")
STAGES = ("held", "queued", "rendering", "sending")
NOT_CLAIMED = frozenset({"held", "queued", "rendered"})  # no dispatch has looked at Spiris for this version yet
EDIT_MARK = "Reviderad"  # the edited row text carries it: the document that went out shows which version it was
CREDIT_NUMBER_OFFSET = 50_000  # a credit invoice's number: its original's plus this
MALFORMED_KINDS = ("rows_null", "rows_missing", "wrong_type", "lone_surrogate", "absurd_vat")


@dataclass
class SeededInvoice:
    """What the soak seeded, enough to change it in Spiris later."""

    company_id: str
    source_id: str
    number: int
    buyer: dict[str, Any]
    rows: list[RowSpec]
    body: dict[str, Any]


@dataclass
class PlannedChange:
    kind: str  # edit / pay / credit
    stage: str  # the earliest stage it is made at (STAGES)
    seeded: SeededInvoice
    made_at: str | None = None  # the stage it was made at
    status_after: str | None = None  # our invoice's status right after the change
    credit_number: int | None = None

    @property
    def strict(self) -> bool:
        """Made before any dispatch claimed the version: the change must win."""
        return self.status_after in NOT_CLAIMED


@dataclass
class ChangeFigures:
    planned: int = 0
    made: int = 0
    made_by_kind_and_stage: dict[str, int] = field(default_factory=dict)
    paid_or_credited: int = 0
    paid_or_credited_cancelled: int = 0
    paid_or_credited_gone_out_before_the_change: int = 0  # made once dispatch had claimed it: allowed
    paid_or_credited_not_cancelled: int = 0  # made before the claim, yet not cancelled: a failure
    edited: int = 0
    edited_sent_revised: int = 0
    edited_gone_out_before_the_change: int = 0
    edited_sent_stale: int = 0  # made before the claim, yet the old content went out: a failure
    credit_notes_imported: int = 0
    credit_notes_of_originals_not_sent: int = 0  # a credit note went out for an original that did not


class SourceChanges:
    """Changes in Spiris while invoices are on their way (module docstring). `status_of(invoice_id)` reads
    an invoice's stored status; `spiris_url` is the Spiris sandbox."""

    def __init__(self, spiris_url: str, share: float, status_of: Callable[[str], str | None]) -> None:
        self._spiris_url = spiris_url
        self._every = round(1 / share) if share else 0
        self._status_of = status_of
        self.planned: dict[str, PlannedChange] = {}  # by invoice number
        self._number_of: dict[str, str] = {}  # our invoice id → number
        self._lock = threading.Lock()
        self._counts: Counter[bool] = Counter()

    def plan(self, seeded: SeededInvoice, *, held: bool) -> None:
        """Every `1/share`-th selectable invoice gets a change, the first one too; kinds and stages in turn
        (`held` for the invoices the first sync holds, the other stages for the rest)."""
        if not self._every:
            return
        count = self._counts[held]
        self._counts[held] += 1
        if count % self._every:
            return
        turn = count // self._every
        stage = "held" if held else STAGES[1 + turn % 3]
        self.planned[str(seeded.number)] = PlannedChange(CHANGE_KINDS[turn % 3], stage, seeded)

    # --- when to make them --------------------------------------------------------------------------

    def observe(self, invoices: list[dict[str, Any]]) -> None:
        """Each round of the drive loop, before held invoices are released: held and queued changes."""
        with self._lock:
            for item in invoices:
                self._number_of[item["id"]] = str(item["number"])
        for item in invoices:
            status = item["status"]
            if status == "held":
                self._make(str(item["number"]), item["id"], "held", ("held",))
            elif status in ("queued", "rendered"):  # a held one is rendered first: it waits to be held
                self._make(str(item["number"]), item["id"], "queued", ("queued",))

    def before_handler(self, function: str, messages: list[dict[str, Any]]) -> None:
        """The drainer hook, right before a render or dispatch handler gets these messages."""
        made_at, stages = {"RenderFunction": ("rendering", ("queued", "rendering")),
                           "DispatchFunction": ("sending", STAGES)}.get(function, (None, ()))
        if made_at is None:
            return
        for message in messages:
            try:
                invoice_id = str(json.loads(message.get("Body") or "{}").get("invoice_id") or "")
            except (ValueError, AttributeError):
                continue  # a poison message
            with self._lock:
                number = self._number_of.get(invoice_id)
            if number is not None:
                self._make(number, invoice_id, made_at, stages)

    def _make(self, number: str, invoice_id: str, made_at: str, due_stages: tuple[str, ...]) -> None:
        with self._lock:
            change = self.planned.get(number)
            if change is None or change.made_at is not None or change.stage not in due_stages:
                return
            change.made_at = made_at  # claimed: made once
        with httpx.Client(base_url=self._spiris_url, timeout=30) as spiris:
            {"edit": _edit, "pay": _pay, "credit": _credit}[change.kind](spiris, change)
        change.status_after = self._status_of(invoice_id)

    # --- the figures --------------------------------------------------------------------------------

    def credit_numbers(self) -> set[str]:
        return {str(c.credit_number) for c in self.planned.values() if c.credit_number is not None}

    def figures(self, final: dict[str, dict[str, Any]], gone_out: Callable[[str], bool],
                documents: dict[str, list[str]]) -> ChangeFigures:
        """`final`: our invoices by number (status, version); `gone_out(number)`: the operator holds it or
        the buyer was mailed it; `documents`: the XML of every operator document, by invoice number."""
        out = ChangeFigures(planned=len(self.planned))
        made = [c for c in self.planned.values() if c.made_at is not None]
        out.made = len(made)
        out.made_by_kind_and_stage = dict(sorted(Counter(f"{c.kind} {c.made_at}" for c in made).items()))
        for change in made:
            number = str(change.seeded.number)
            status = (final.get(number) or {}).get("status")
            if change.kind == "edit":
                _edited(out, change, documents.get(number, []), final.get(number) or {}, gone_out(number))
                continue
            out.paid_or_credited += 1
            if status == "cancelled":
                out.paid_or_credited_cancelled += 1
            elif change.strict or not gone_out(number):
                out.paid_or_credited_not_cancelled += 1
            else:
                out.paid_or_credited_gone_out_before_the_change += 1
        for change in made:
            if change.credit_number is None or str(change.credit_number) not in final:
                continue
            out.credit_notes_imported += 1
            if gone_out(str(change.credit_number)) and not gone_out(str(change.seeded.number)):
                out.credit_notes_of_originals_not_sent += 1
        return out

    @staticmethod
    def failures(figures: ChangeFigures) -> int:
        return (figures.paid_or_credited_not_cancelled + figures.edited_sent_stale
                + figures.credit_notes_of_originals_not_sent)


def _edited(out: ChangeFigures, change: PlannedChange, documents: list[str], final: dict[str, Any],
            gone_out: bool) -> None:
    out.edited += 1
    if not gone_out:
        return  # failed with a notice, or cancelled: nothing stale reached the buyer
    # The operator's documents show the content (e-invoice and letter XML); an e-mail carries a PDF only,
    # so there the version that went out tells: the edit makes the next version.
    stale = any(EDIT_MARK not in xml for xml in documents) if documents else int(final.get("version") or 1) < 2
    if not stale:
        out.edited_sent_revised += 1
    elif change.strict:
        out.edited_sent_stale += 1
    else:
        out.edited_gone_out_before_the_change += 1


def _patch(spiris: httpx.Client, seeded: SeededInvoice, fields: dict[str, Any]) -> None:
    spiris.patch(f"/_sandbox/companies/{seeded.company_id}/customerinvoices/{seeded.source_id}",
                 content=dumps(fields).encode(), headers={"Content-Type": "application/json"}).raise_for_status()


def _edit(spiris: httpx.Client, change: PlannedChange) -> None:
    rows = [dict(row) for row in change.seeded.body["Rows"]]
    rows[0]["Text"] = f"{rows[0]['Text']} {EDIT_MARK}"
    _patch(spiris, change.seeded, {"Rows": rows})


def _pay(spiris: httpx.Client, change: PlannedChange) -> None:
    _patch(spiris, change.seeded, {"PaymentStatus": 0, "RemainingAmount": Decimal("0"),
                                   "RemainingAmountInvoiceCurrency": Decimal("0"),
                                   "PaymentDate": f"{stockholm_today().isoformat()}T00:00:00"})


def _credit(spiris: httpx.Client, change: PlannedChange) -> None:
    """As Spiris credits an invoice: a credit invoice that refers to it, and the original marked credited."""
    seeded = change.seeded
    change.credit_number = seeded.number + CREDIT_NUMBER_OFFSET
    credit = invoice(seeded.buyer, change.credit_number, seeded.rows, is_credit=True,
                     referring_invoice_id=seeded.source_id)
    created = post_json(spiris, f"/_sandbox/companies/{seeded.company_id}/customerinvoices", credit)
    _patch(spiris, seeded, {"CreditedBy": [{"CreditInvoiceId": created.json()["id"]}],
                            "RemainingAmount": Decimal("0"), "RemainingAmountInvoiceCurrency": Decimal("0")})


# --- malformed invoices ---------------------------------------------------------------------------------


def malformed_body(kind: str, buyer: dict[str, Any], number: int) -> str:
    """The raw JSON of a source invoice that cannot be read or mapped (issue 12 §4), as Spiris would hold it."""
    body = invoice(buyer, number, [RowSpec("Konsulttimmar", Decimal("2"), Decimal("950.00"), unit="h")])
    if kind == "rows_null":
        body["Rows"] = None
    elif kind == "rows_missing":
        del body["Rows"]
    elif kind == "wrong_type":
        body["Rows"][0]["Quantity"] = "två"
    elif kind == "lone_surrogate":
        body["Rows"][0]["Text"] = "Konsult LONE_SURROGATE"
    elif kind == "absurd_vat":
        body["Rows"][0]["VatRate"] = Decimal("250")
    else:
        raise ValueError(f"unknown malformed kind {kind}")
    # Raw JSON, so a lone surrogate escape (\ud800) reaches the sandbox as Spiris would hold it.
    return dumps(body).replace("LONE_SURROGATE", "\\ud800")


def seed_malformed(spiris: httpx.Client, company_id: str, buyer: dict[str, Any], number: int, kind: str) -> None:
    spiris.post(f"/_sandbox/companies/{company_id}/customerinvoices", content=malformed_body(kind, buyer, number)
                .encode(), headers={"Content-Type": "application/json"}).raise_for_status()
