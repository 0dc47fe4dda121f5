"""The selection matrix of issue 4: exactly the right invoices are taken, every skip has its reason."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from fetch_doubles import source_invoice
from invoice_bridge.fetch.selection import Reason, select

ORIGINAL_ID = "0e0e0e0e-1111-4c2a-8e7e-2a3b4c5d6e7f"

MATRIX = [
    ("booked unpaid", {}, True, Reason.SELECTED),
    ("paid", {"PaymentStatus": 0, "RemainingAmount": Decimal("0")}, False, Reason.PAID),
    ("paid status with stale remaining", {"PaymentStatus": 0}, False, Reason.PAID),
    ("unpaid status but nothing remaining", {"RemainingAmount": Decimal("0.00")}, False, Reason.PAID),
    ("partly paid", {"RemainingAmount": Decimal("5000.00")}, True, Reason.SELECTED),
    ("overdue", {"PaymentStatus": 2}, True, Reason.SELECTED),
    (
        "credit of an original we did not send",
        {
            "IsCreditInvoice": True,
            "ReferringInvoiceId": "ffffffff-1111-4c2a-8e7e-2a3b4c5d6e7f",
            "TotalAmount": Decimal("-12500"),
            "RemainingAmount": Decimal("-12500"),
        },
        False,
        Reason.CREDIT_OF_UNSENT_ORIGINAL,
    ),
    (
        "credit of an original we sent (even when already set off)",
        {
            "IsCreditInvoice": True,
            "ReferringInvoiceId": ORIGINAL_ID,
            "TotalAmount": Decimal("-12500"),
            "RemainingAmount": Decimal("0"),
            "PaymentStatus": 0,
        },
        True,
        Reason.CREDIT_OF_SENT_ORIGINAL,
    ),
    ("credit without original", {"IsCreditInvoice": True}, False, Reason.CREDIT_WITHOUT_ORIGINAL),
    ("credited original", {"CreditedBy": [{"CreditInvoiceId": ORIGINAL_ID}]}, False, Reason.CREDITED),
    ("sold to factoring", {"IsSold": True, "FactoringInvoiceStatus": 4}, False, Reason.SOLD_TO_FACTORING),
    ("SendType 1", {"SendType": 1}, False, Reason.SENT_BY_AUTOINVOICE_ELECTRONIC),
    ("SendType 2", {"SendType": 2}, False, Reason.SENT_BY_AUTOINVOICE_PRINT),
    ("SendType 3", {"SendType": 3}, False, Reason.SENT_BY_AUTOINVOICE_B2C),
    ("SendType 4", {"SendType": 4}, False, Reason.SENT_BY_KIVRA),
    ("SendType unknown", {"SendType": 9}, False, Reason.SENT_BY_AUTOINVOICE_OTHER),
    ("SendType 0 is not sent", {"SendType": 0}, True, Reason.SELECTED),
    ("AutoInvoice error", {"HasAutoInvoiceError": True}, False, Reason.AUTOINVOICE_ERROR),
    ("draft (no number, no voucher)", {"InvoiceNumber": None, "VoucherId": None}, False, Reason.DRAFT),
    ("not booked (no voucher)", {"VoucherId": None}, False, Reason.VOUCHER_MISSING),
    ("empty voucher GUID", {"VoucherId": "00000000-0000-0000-0000-000000000000"}, False, Reason.VOUCHER_MISSING),
    ("quick invoice", {"IsQuickInvoice": True}, False, Reason.QUICK_INVOICE),
    ("payment reminder issued", {"PaymentReminderIssued": True}, False, Reason.PAYMENT_REMINDER_ISSUED),
    ("payment reminders counted", {"PaymentRemindersCount": 2}, False, Reason.PAYMENT_REMINDER_ISSUED),
    ("no reminder yet", {"PaymentReminderIssued": False, "PaymentRemindersCount": 0}, True, Reason.SELECTED),
    # A reminder proves the buyer has the invoice, however it was sent: it wins over the payment state.
    ("reminded and paid", {"PaymentRemindersCount": 1, "PaymentStatus": 0}, False, Reason.PAYMENT_REMINDER_ISSUED),
    (
        "foreign currency",
        {"CurrencyCode": "EUR", "TotalAmountInvoiceCurrency": Decimal("1100")},
        True,
        Reason.SELECTED,
    ),
    # AutoInvoice wins over payment: a paid invoice sent by AutoInvoice is reported as sent.
    (
        "paid and sent by AutoInvoice",
        {"SendType": 1, "PaymentStatus": 0},
        False,
        Reason.SENT_BY_AUTOINVOICE_ELECTRONIC,
    ),
]


@pytest.mark.parametrize(("case", "overrides", "selected", "reason"), MATRIX, ids=[m[0] for m in MATRIX])
def test_selection_matrix(case: str, overrides: dict, selected: bool, reason: str) -> None:
    decision = select(source_invoice(**overrides), sent_source_ids={ORIGINAL_ID})

    assert (decision.selected, decision.reason) == (selected, reason)


def test_send_type_detail_names_the_channel() -> None:
    assert (
        select(source_invoice(SendType=2), sent_source_ids=set()).detail == "SendType 2 (AUTOINVOICE_PRINT)"
    )


def test_partly_paid_and_foreign_currency_are_explained() -> None:
    partly = select(source_invoice(RemainingAmount=Decimal("5000.00")), sent_source_ids=set())
    foreign = select(source_invoice(CurrencyCode="EUR"), sent_source_ids=set())

    assert partly.detail == "partly paid: 5000.00 of 12500.00 remaining"
    assert foreign.detail == "currency EUR"


def test_credit_follows_only_its_own_original() -> None:
    credit = source_invoice(IsCreditInvoice=True, ReferringInvoiceId=ORIGINAL_ID)

    assert select(credit, sent_source_ids=set()).reason == Reason.CREDIT_OF_UNSENT_ORIGINAL
    assert select(credit, sent_source_ids={"other"}).selected is False
    assert select(credit, sent_source_ids={ORIGINAL_ID}).selected is True


def test_invoices_dated_before_activation_are_held_for_the_office() -> None:
    """The API cannot prove an older invoice was not e-mailed or printed from Spiris: it never goes out by
    itself (selected, held, on the reconciliation list)."""
    older = select(source_invoice(), sent_source_ids=set(), active_since=date(2026, 11, 1))  # dated 2026-10-31

    assert (older.selected, older.reason, older.hold) == (True, Reason.DATED_BEFORE_ACTIVATION, True)
    assert older.for_the_office
    assert older.detail == "invoice date 2026-10-31 is before the integration became active on 2026-11-01"
    same_day = select(source_invoice(), sent_source_ids=set(), active_since=date(2026, 10, 31))
    assert (same_day.selected, same_day.reason, same_day.hold) == (True, Reason.SELECTED, False)
    skipped = select(source_invoice(PaymentStatus=0), sent_source_ids=set(), active_since=date(2026, 11, 1))
    assert (skipped.selected, skipped.reason) == (False, Reason.PAID)  # a skip stays a skip


def test_reasons_the_office_must_see_are_marked() -> None:
    reminded = select(source_invoice(PaymentReminderIssued=True), sent_source_ids=set())
    quick = select(source_invoice(IsQuickInvoice=True), sent_source_ids=set())
    paid = select(source_invoice(PaymentStatus=0), sent_source_ids=set())

    assert reminded.for_the_office and quick.for_the_office and not paid.for_the_office
    assert reminded.detail == "1 payment reminder(s) issued"
