"""Which Spiris customer invoices we take over, and why (reference/spiris-api.md §2.5).

A pure function of the source invoice and what we already sent, so every decision can be
recorded with its reason and explained to the office on the reconciliation list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ..mapping import local_date
from ..models.spiris import CustomerInvoice, PaymentStatus, SendType

# Spiris writes the all-zero GUID where a reference is empty (spiris-api.md §2.5: a booked invoice sits on a voucher).
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"


class Reason:
    """Reason codes recorded with every decision (stable strings: the admin API shows them)."""

    SELECTED = "selected"
    CREDIT_OF_SENT_ORIGINAL = "credit_of_sent_original"
    DRAFT = "draft"
    VOUCHER_MISSING = "voucher_missing"
    QUICK_INVOICE = "quick_invoice"
    PAYMENT_REMINDER_ISSUED = "payment_reminder_issued"
    DATED_BEFORE_ACTIVATION = "dated_before_activation"
    SENT_BY_AUTOINVOICE_ELECTRONIC = "sent_by_autoinvoice_electronic"
    SENT_BY_AUTOINVOICE_PRINT = "sent_by_autoinvoice_print"
    SENT_BY_AUTOINVOICE_B2C = "sent_by_autoinvoice_b2c"
    SENT_BY_KIVRA = "sent_by_kivra"
    SENT_BY_AUTOINVOICE_OTHER = "sent_by_autoinvoice_other"
    AUTOINVOICE_ERROR = "autoinvoice_error"
    SOLD_TO_FACTORING = "sold_to_factoring"
    CREDIT_OF_UNSENT_ORIGINAL = "credit_of_unsent_original"
    CREDIT_WITHOUT_ORIGINAL = "credit_without_original"
    CREDITED = "credited"
    PAID = "paid"


SKIP_REASONS_AT_SOURCE = frozenset(
    {
        Reason.PAID,
        Reason.CREDITED,
        Reason.SOLD_TO_FACTORING,
        Reason.SENT_BY_AUTOINVOICE_ELECTRONIC,
        Reason.SENT_BY_AUTOINVOICE_PRINT,
        Reason.SENT_BY_AUTOINVOICE_B2C,
        Reason.SENT_BY_KIVRA,
        Reason.SENT_BY_AUTOINVOICE_OTHER,
        Reason.AUTOINVOICE_ERROR,
        Reason.PAYMENT_REMINDER_ISSUED,
    }
)

# Decisions the office must look at whenever they are taken (not only on the first sync): they join the
# reconciliation list. Spiris cannot tell whether the buyer already has these invoices, or they are no
# real invoices to re-create.
FOR_THE_OFFICE = frozenset(
    {Reason.PAYMENT_REMINDER_ISSUED, Reason.QUICK_INVOICE, Reason.VOUCHER_MISSING, Reason.DATED_BEFORE_ACTIVATION}
)

_SEND_TYPE_REASONS = {
    SendType.AUTOINVOICE_ELECTRONIC: Reason.SENT_BY_AUTOINVOICE_ELECTRONIC,
    SendType.AUTOINVOICE_PRINT: Reason.SENT_BY_AUTOINVOICE_PRINT,
    SendType.AUTOINVOICE_B2C: Reason.SENT_BY_AUTOINVOICE_B2C,
    SendType.KIVRA: Reason.SENT_BY_KIVRA,
}


@dataclass(frozen=True)
class Decision:
    selected: bool
    reason: str
    detail: str = ""
    hold: bool = False  # selected, but held for the office: never goes out by itself

    @property
    def for_the_office(self) -> bool:
        return self.reason in FOR_THE_OFFICE


def select(source: CustomerInvoice, *, sent_source_ids: set[str], active_since: date | None = None) -> Decision:
    """Decide one source invoice. `sent_source_ids`: source ids whose invoice we already sent
    (only the originals of credit invoices matter). `active_since`: the Stockholm date the integration
    became active; a selected invoice dated before it is held for the office."""
    decision = _select(source, sent_source_ids)
    invoice_date = local_date(source.InvoiceDate)
    if decision.selected and active_since and invoice_date and invoice_date < active_since:
        # Sent from Spiris by e-mail or on paper before we took over? The API cannot tell (spiris-api.md §2.5).
        detail = f"invoice date {invoice_date} is before the integration became active on {active_since}"
        return Decision(True, Reason.DATED_BEFORE_ACTIVATION, "; ".join(filter(None, [detail, decision.detail])),
                        hold=True)
    return decision


def _select(source: CustomerInvoice, sent_source_ids: set[str]) -> Decision:
    # Drafts live in /customerinvoicedrafts and never appear here; defend anyway: a draft has no number.
    if source.InvoiceNumber is None:
        return Decision(False, Reason.DRAFT, "no invoice number: not booked yet")
    if not source.VoucherId or source.VoucherId.strip().lower() == EMPTY_GUID:
        return Decision(False, Reason.VOUCHER_MISSING, f"VoucherId {source.VoucherId or 'missing'}: not booked")
    if source.IsQuickInvoice:
        return Decision(False, Reason.QUICK_INVOICE, "quick invoice: posted by hand or imported, no real rows")

    # Anything AutoInvoice touched may already have reached the buyer: never send it a second time.
    if source.SendType not in (None, SendType.NONE):
        try:
            send_type = SendType(source.SendType)
            reason = _SEND_TYPE_REASONS[send_type]
            detail = f"SendType {int(send_type)} ({send_type.name})"
        except ValueError:
            reason, detail = Reason.SENT_BY_AUTOINVOICE_OTHER, f"SendType {source.SendType}"
        return Decision(False, reason, detail)
    if source.HasAutoInvoiceError:
        return Decision(False, Reason.AUTOINVOICE_ERROR, "AutoInvoice reported an error: check at the source")

    if source.IsSold:
        return Decision(
            False, Reason.SOLD_TO_FACTORING, f"FactoringInvoiceStatus {source.FactoringInvoiceStatus}"
        )
    # A reminder went out: the buyer has the invoice, however it was sent (e-mail and paper leave no trace).
    if source.PaymentReminderIssued or (source.PaymentRemindersCount or 0) > 0:
        return Decision(
            False, Reason.PAYMENT_REMINDER_ISSUED, f"{source.PaymentRemindersCount or 1} payment reminder(s) issued"
        )

    # A credit invoice follows its original: the buyer needs it only if we sent the original.
    # Checked before payment status: a credit set off against its original shows as settled.
    if source.IsCreditInvoice:
        original = source.ReferringInvoiceId
        if not original:
            return Decision(
                False, Reason.CREDIT_WITHOUT_ORIGINAL, "credit invoice without ReferringInvoiceId"
            )
        if original in sent_source_ids:
            return Decision(True, Reason.CREDIT_OF_SENT_ORIGINAL, f"credits {original}")
        return Decision(False, Reason.CREDIT_OF_UNSENT_ORIGINAL, f"credits {original}, which we did not send")

    credits = [c.CreditInvoiceId for c in source.CreditedBy or [] if c.CreditInvoiceId]
    if credits:
        return Decision(False, Reason.CREDITED, f"credited by {', '.join(credits)}")

    remaining = source.RemainingAmount
    if source.PaymentStatus == PaymentStatus.PAID or (remaining is not None and remaining == 0):
        return Decision(False, Reason.PAID, f"PaymentStatus {source.PaymentStatus}, remaining {remaining}")

    detail = ""
    if source.PaymentStatus == PaymentStatus.OVERDUE:
        detail = "overdue"
    total = source.TotalAmount
    if remaining is not None and total is not None and Decimal(0) < remaining < total:
        detail = f"partly paid: {remaining} of {total} remaining"
    if source.CurrencyCode and source.CurrencyCode != "SEK":
        detail = (detail + "; " if detail else "") + f"currency {source.CurrencyCode}"
    return Decision(True, Reason.SELECTED, detail)
