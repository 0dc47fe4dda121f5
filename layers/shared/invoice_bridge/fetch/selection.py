"""Which Spiris customer invoices we take over, and why (reference/spiris-api.md §2.5).

A pure function of the source invoice and what we already sent, so every decision can be
recorded with its reason and explained to the office on the reconciliation list.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..models.spiris import CustomerInvoice, PaymentStatus, SendType


class Reason:
    """Reason codes recorded with every decision (stable strings: the admin API shows them)."""

    SELECTED = "selected"
    CREDIT_OF_SENT_ORIGINAL = "credit_of_sent_original"
    DRAFT = "draft"
    NOT_BOOKED = "not_booked"
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
    }
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


def select(source: CustomerInvoice, *, sent_source_ids: set[str]) -> Decision:
    """Decide one source invoice. `sent_source_ids`: source ids whose invoice we already sent
    (only the originals of credit invoices matter)."""
    # Drafts live in /customerinvoicedrafts and never appear here; defend anyway: a draft has no number.
    if source.InvoiceNumber is None:
        return Decision(False, Reason.DRAFT, "no invoice number: not booked yet")
    if not source.VoucherId:
        return Decision(False, Reason.NOT_BOOKED, "no voucher: not booked")

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
