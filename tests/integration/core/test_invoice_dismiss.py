"""Dismissing a held invoice (the first fetch's reconciliation): it is cancelled, never sent, and keeps
its hold so that a later version from the source waits for the office again."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from invoice_bridge.adapters.dynamo_invoices import DynamoInvoiceRepository
from invoice_bridge.invoices import InvalidTransition, dismiss_invoice
from invoice_bridge.models.invoice import Invoice, InvoiceStatus, Party
from moto import mock_aws

from sandbox.aws import create_template_table


def _invoice(status: InvoiceStatus) -> Invoice:
    return Invoice(
        id=f"inv-{status.value}", issuer_id="iss", integration_id="int", source_id=status.value, content_hash="h",
        number="1001", issue_date=date(2026, 3, 1), seller=Party(name="S"), buyer=Party(name="B"), rows=[],
        vat_breakdown=[], net_total=Decimal("1"), vat_total=Decimal("0"), gross_total=Decimal("1"),
        status=status, hold=status == InvoiceStatus.HELD,
    )


def test_a_held_invoice_is_dismissed_and_keeps_its_hold() -> None:
    with mock_aws():
        create_template_table("t")
        repo = DynamoInvoiceRepository("t")
        repo.put(_invoice(InvoiceStatus.HELD))
        dismiss_invoice("inv-held", invoices=repo)
        stored = repo.get("inv-held")
        assert stored.status == InvoiceStatus.CANCELLED and stored.hold
        assert [e.detail for e in repo.events("inv-held")] == ["dismissed by the office"]
        assert repo.list(status="held")[0] == []


@pytest.mark.parametrize("status", [InvoiceStatus.RENDERED, InvoiceStatus.SENT, InvoiceStatus.FAILED])
def test_only_held_invoices_can_be_dismissed(status: InvoiceStatus) -> None:
    with mock_aws():
        create_template_table("t")
        repo = DynamoInvoiceRepository("t")
        repo.put(_invoice(status))
        with pytest.raises(InvalidTransition):
            dismiss_invoice(f"inv-{status.value}", invoices=repo)
        assert repo.get(f"inv-{status.value}").status == status
