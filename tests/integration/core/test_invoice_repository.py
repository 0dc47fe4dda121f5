from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from invoice_bridge.adapters.dynamo_invoices import DynamoInvoiceRepository
from invoice_bridge.models.invoice import Invoice, InvoiceEvent, InvoiceStatus, Party
from invoice_bridge.ports import ConflictError, NotFound
from moto import mock_aws

from sandbox.aws import create_template_table


def _create_table() -> None:
    create_template_table("t")


def _invoice(n: int, issuer: str = "iss1") -> Invoice:
    return Invoice(
        id=f"inv{n}",
        issuer_id=issuer,
        integration_id="int1",
        source_id=f"src{n}",
        content_hash="h",
        number=str(1000 + n),
        issue_date=date(2026, 11, 1),
        seller=Party(name="Säljare AB"),
        buyer=Party(name="Köpare AB"),
        rows=[],
        vat_breakdown=[],
        net_total=Decimal("100.00"),
        vat_total=Decimal("25.00"),
        gross_total=Decimal("125.00"),
    )


@pytest.fixture
def repo():
    with mock_aws():
        _create_table()
        yield DynamoInvoiceRepository("t")


def test_round_trip_keeps_decimals_and_finds_by_source(repo: DynamoInvoiceRepository) -> None:
    repo.put(_invoice(1))
    loaded = repo.get("inv1")
    assert loaded.gross_total == Decimal("125.00") and isinstance(loaded.gross_total, Decimal)
    assert repo.find_by_source("iss1", "src1").id == "inv1"  # type: ignore[union-attr]
    assert repo.find_by_source("iss1", "nope") is None
    with pytest.raises(NotFound):
        repo.get("missing")


def test_conditional_put_detects_a_concurrent_change(repo: DynamoInvoiceRepository) -> None:
    repo.put(_invoice(1))
    first, second = repo.get("inv1"), repo.get("inv1")
    first.status = InvoiceStatus.RENDERED
    repo.put(first, expected_updated_at=second.updated_at)
    second.status = InvoiceStatus.CANCELLED
    with pytest.raises(ConflictError):
        repo.put(second, expected_updated_at=second.updated_at)
    assert repo.get("inv1").status == InvoiceStatus.RENDERED


def test_list_by_issuer_and_status_with_cursor(repo: DynamoInvoiceRepository) -> None:
    for n in range(5):
        repo.put(_invoice(n, issuer="a" if n < 3 else "b"))
    failed = repo.get("inv4")
    failed.status = InvoiceStatus.FAILED
    repo.put(failed)
    page, cursor = repo.list(issuer_id="a", limit=2)
    assert len(page) == 2 and cursor
    rest, end = repo.list(issuer_id="a", limit=2, cursor=cursor)
    assert {i.id for i in page + rest} == {"inv0", "inv1", "inv2"} and end is None
    assert [i.id for i in repo.list(status="failed")[0]] == ["inv4"]
    assert {i.id for i in repo.list(limit=10)[0]} == {f"inv{n}" for n in range(5)}


def test_events_in_order(repo: DynamoInvoiceRepository) -> None:
    repo.put(_invoice(1))
    repo.add_event("inv1", InvoiceEvent(status="queued", detail="fetched"))
    repo.add_event("inv1", InvoiceEvent(status="rendered", detail="pdf"))
    assert [e.status for e in repo.events("inv1")] == ["queued", "rendered"]
