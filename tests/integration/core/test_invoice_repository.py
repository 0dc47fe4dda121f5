from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from aws_requests import aws_requests
from invoice_bridge.adapters.dynamo_conditional import transaction_chunks
from invoice_bridge.adapters.dynamo_invoices import TRANSACTION_ATTEMPTS, DynamoInvoiceRepository
from invoice_bridge.models.invoice import Invoice, InvoiceEvent, InvoiceStatus, Party
from invoice_bridge.ports import ConflictError, InvoiceMove, NotFound, StoreBusy
from moto import mock_aws

from sandbox.aws import create_template_table
from sandbox.dynamodb_conflicts import conflict_dynamodb_writes


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


def test_a_status_listing_can_leave_one_channel_out(repo: DynamoInvoiceRepository) -> None:
    for n, channel in enumerate(["email", "einvoice", None, "print"]):
        invoice = _invoice(n)
        invoice.status, invoice.channel = InvoiceStatus.SENT, channel
        repo.put(invoice)
    page, cursor = repo.list(status="sent", limit=50, exclude_channel="email")
    assert sorted(i.id for i in page) == ["inv1", "inv2", "inv3"] and cursor is None
    assert len(repo.list(status="sent", limit=50)[0]) == 4


def test_only_a_new_invoice_writes_its_source_link(repo: DynamoInvoiceRepository) -> None:
    """The link is written with the blind write of a new invoice; a conditional update (of an invoice
    that was read, so whose link exists) does not write it again."""
    import boto3

    repo.put(_invoice(1))
    table = boto3.resource("dynamodb").Table("t")
    table.delete_item(Key={"PK": "SOURCE#iss1#src1", "SK": "SOURCE"})
    read = repo.get("inv1")
    read.status = InvoiceStatus.RENDERED
    repo.put(read, expected_updated_at=read.updated_at)
    assert repo.find_by_source("iss1", "src1") is None
    repo.put(_invoice(1))
    assert repo.find_by_source("iss1", "src1").id == "inv1"  # type: ignore[union-attr]


def test_create_never_overwrites_an_invoice_that_exists(repo: DynamoInvoiceRepository) -> None:
    """Two syncs of one integration (a duplicate message) import the same source invoice at once: the
    second must not reset the first's invoice, which may be rendered or sent by then."""
    assert repo.create(_invoice(1))
    rendered = repo.get("inv1")
    rendered.status, rendered.einvoice_key = InvoiceStatus.RENDERED, "k.xml"
    repo.put(rendered, expected_updated_at=rendered.updated_at)
    assert not repo.create(_invoice(1))
    assert repo.get("inv1").einvoice_key == "k.xml"
    assert repo.find_by_source("iss1", "src1").id == "inv1"  # type: ignore[union-attr]


def test_a_status_move_is_conditional_on_version_and_status_and_carries_its_event(
    repo: DynamoInvoiceRepository,
) -> None:
    repo.put(_invoice(1).model_copy(update={"status": InvoiceStatus.RENDERED}))
    held_copy = repo.get("inv1")
    # A newer version arrives (the sync), then the old copy tries to move on: refused, nothing written.
    repo.put(held_copy.model_copy(update={"version": 2, "status": InvoiceStatus.QUEUED}))
    with pytest.raises(ConflictError):
        repo.transition(held_copy.model_copy(update={"status": InvoiceStatus.SENDING}),
                        [InvoiceStatus.RENDERED], InvoiceEvent(status="sending", detail="by e-invoice"))
    stored = repo.get("inv1")
    assert (stored.version, stored.status) == (2, InvoiceStatus.QUEUED) and repo.events("inv1") == []
    # The same version in an allowed status moves, with its event in the same transaction.
    repo.transition(stored.model_copy(update={"status": InvoiceStatus.RENDERED}), [InvoiceStatus.QUEUED],
                    InvoiceEvent(status="rendered", detail="v2"))
    assert repo.get("inv1").status == InvoiceStatus.RENDERED
    assert [e.detail for e in repo.events("inv1")] == ["v2"]
    # A status it may not come from (a cancellation, here) is left alone.
    repo.put(repo.get("inv1").model_copy(update={"status": InvoiceStatus.CANCELLED}))
    with pytest.raises(ConflictError):
        repo.transition(stored.model_copy(update={"status": InvoiceStatus.SENDING}), [InvoiceStatus.RENDERED])
    assert repo.get("inv1").status == InvoiceStatus.CANCELLED


def test_updated_before_pages_the_status_index_oldest_first(repo: DynamoInvoiceRepository) -> None:
    from datetime import timedelta

    from invoice_bridge.models.common import utcnow

    for n in range(5):
        repo.put(_invoice(n).model_copy(update={"status": InvoiceStatus.RENDERED}))
    repo.put(_invoice(9).model_copy(update={"status": InvoiceStatus.SENDING}))
    later = utcnow() + timedelta(minutes=1)
    assert [i.id for i in repo.updated_before("rendered", later, limit=3)] == ["inv0", "inv1", "inv2"]
    assert len(repo.updated_before("rendered", later, limit=50)) == 5
    assert repo.updated_before("rendered", utcnow() - timedelta(minutes=1), limit=50) == []


def test_a_2000_row_invoice_keeps_its_rows_in_s3_and_the_render_loads_them() -> None:
    import boto3
    from invoice_bridge.adapters.s3_documents import S3DocumentStore
    from invoice_bridge.invoice_rows import with_rows
    from invoice_bridge.models.invoice import InvoiceRow
    from invoice_bridge.ports import ItemTooLarge

    rows = [
        InvoiceRow(line_number=n, text=f"Artikel {n} med en lång beskrivning " * 4, quantity=Decimal("1"),
                   unit_price=Decimal("10.00"), vat_rate=Decimal("25"), amount=Decimal("10.00"))
        for n in range(1, 2001)
    ]
    with mock_aws():
        _create_table()
        boto3.client("s3").create_bucket(Bucket="docs", CreateBucketConfiguration={"LocationConstraint": "eu-north-1"})
        documents = S3DocumentStore("docs")
        repo = DynamoInvoiceRepository("t", documents)
        large = _invoice(1).model_copy(update={"rows": rows})
        assert len(large.model_dump_json()) > 400_000  # more than one DynamoDB item holds

        assert repo.create(large)
        stored = repo.get("inv1")
        assert stored.rows == [] and stored.rows_key == "iss1/invoices/inv1/v1/rows.json"
        assert with_rows(stored, documents).rows == rows

        # A status move writes the pointer again, never the rows (they are the same for the version).
        stored.status = InvoiceStatus.RENDERED
        repo.put(stored, expected_updated_at=stored.updated_at)
        assert with_rows(repo.get("inv1"), documents).rows == rows
        keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="docs")["Contents"]]
        assert keys == ["iss1/invoices/inv1/v1/rows.json"]

        # Without a place for the rows it is refused as too large (the sync parks it), not half-written.
        with pytest.raises(ItemTooLarge):
            DynamoInvoiceRepository("t").create(_invoice(2).model_copy(update={"rows": rows}))
        with pytest.raises(NotFound):
            repo.get("inv2")


def _pages(repo: DynamoInvoiceRepository, **query: object) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        page, cursor = repo.list(cursor=cursor, **query)  # type: ignore[arg-type]
        pages.append([i.id for i in page])
        if cursor is None:
            return pages


def test_every_page_is_full_unless_it_is_the_last(repo: DynamoInvoiceRepository) -> None:
    """Filtered and cross-issuer listings fill each page up to `limit` (a filtered query page can hold a
    handful of matches, and the table holds events and links besides invoices)."""
    statuses = [InvoiceStatus.FAILED, InvoiceStatus.SENT, InvoiceStatus.QUEUED, InvoiceStatus.CANCELLED]
    for n in range(100):
        invoice = _invoice(n, issuer="a" if n % 5 == 0 else "b")
        invoice.status = statuses[n % 4]
        repo.create(invoice)
        repo.add_event(invoice.id, InvoiceEvent(status="queued", detail="fetched"))

    everything = _pages(repo, limit=30)
    assert [len(p) for p in everything] == [30, 30, 30, 10]
    assert sorted(i for p in everything for i in p) == sorted(f"inv{n}" for n in range(100))

    failed_of_a = _pages(repo, status="failed", issuer_id="a", limit=2)  # 5 of the 25 failed are a's
    assert [len(p) for p in failed_of_a] == [2, 2, 1]
    assert sorted(i for p in failed_of_a for i in p) == sorted(f"inv{n}" for n in range(0, 100, 20))

    exactly = _pages(repo, issuer_id="a", limit=20)  # 20 invoices: one full page and no empty second one
    assert [len(p) for p in exactly] == [20]
    with pytest.raises(ValueError):
        repo.list(limit=5, cursor="garbage")


def _row_invoice(rows: int) -> Invoice:
    from invoice_bridge.models.invoice import InvoiceRow

    return _invoice(1).model_copy(update={"rows": [
        InvoiceRow(line_number=n, text=f"Konsulttimmar vecka {n % 52 + 1}, projekt {n * 7919 % 1000}",
                   quantity=Decimal(8 + n % 5), unit="h", unit_price=Decimal("950.00"), vat_rate=Decimal(25),
                   amount=Decimal(8 + n % 5) * Decimal("950.00"))
        for n in range(1, rows + 1)
    ]})


def test_the_invoice_item_keeps_its_json_compressed_and_reads_items_written_before(
    repo: DynamoInvoiceRepository,
) -> None:
    """Every status move rewrites the invoice item and is billed per started KB of it (twice in a
    transaction): the JSON is kept compressed. Items written before as JSON text still read."""
    import boto3

    invoice = _row_invoice(30)
    repo.put(invoice)
    table = boto3.resource("dynamodb", region_name="eu-north-1").Table("t")
    item = table.get_item(Key={"PK": "INVOICE#inv1", "SK": "INVOICE"})["Item"]
    assert len(item["data"].value) * 4 < len(invoice.model_dump_json())  # binary, a quarter of the JSON
    assert repo.get("inv1") == invoice

    table.put_item(Item={**item, "PK": "INVOICE#old", "data": invoice.model_copy(update={"id": "old"}).model_dump_json()})
    assert repo.get("old").rows == invoice.rows


def test_the_history_lives_in_the_invoice_item_and_every_write_of_it_keeps_it(
    repo: DynamoInvoiceRepository,
) -> None:
    """A move and its event are one UpdateItem of the invoice item (no transaction, no second item); a
    later whole write of the invoice (a new version, a cancellation) keeps the history and drops what
    the invoice no longer has (its channel, its place on a waiting index)."""
    from aws_requests import aws_requests

    assert repo.create(_invoice(1), events=[InvoiceEvent(status="queued", detail="fetched")])
    rendered = repo.get("inv1").model_copy(update={"status": InvoiceStatus.RENDERED, "channel": "email"})
    with aws_requests() as requests:
        repo.transition(rendered, [InvoiceStatus.QUEUED], InvoiceEvent(status="rendered", detail="v1"))
    assert requests.dynamodb_writes() == [("UpdateItem", ("INVOICE/INVOICE",))]
    stored = repo.get("inv1")
    cancelled = stored.model_copy(update={"status": InvoiceStatus.CANCELLED, "channel": None})
    repo.put(cancelled, expected_updated_at=stored.updated_at,
             events=[InvoiceEvent(status="cancelled", detail="paid at the source")])
    assert [e.detail for e in repo.events("inv1")] == ["fetched", "v1", "paid at the source"]
    assert repo.get("inv1").status == InvoiceStatus.CANCELLED
    item = repo._table.get_item(Key={"PK": "INVOICE#inv1", "SK": "INVOICE"})["Item"]
    assert "channel" not in item and len(item["events"]) == 3


def test_a_long_history_goes_on_in_items_of_its_own_and_reads_whole_in_order() -> None:
    """Past the cap, standalone events are items of their own (the item stays far from 400 KB); the
    history reads both, oldest first, with the events items written before the history moved into the
    invoice item, and never a delivery record."""
    from datetime import UTC, datetime, timedelta

    with mock_aws():
        _create_table()
        repo = DynamoInvoiceRepository("t", events_in_item=3)
        start = datetime(2026, 12, 1, 9, tzinfo=UTC)
        legacy = InvoiceEvent(at=start, status="queued", detail="written as an item, before")
        repo._table.put_item(Item={"PK": "INVOICE#inv1", "SK": f"EVENT#{start.isoformat()}#00000000",
                                   "data": legacy.model_dump_json()})
        repo._table.put_item(Item={"PK": "INVOICE#inv1", "SK": "DELIVERY#000001", "data": "{}"})
        repo.put(_invoice(1))
        for n in range(1, 6):
            repo.add_event("inv1", InvoiceEvent(at=start + timedelta(minutes=n), status="note", detail=f"n{n}"))
        item = repo._table.get_item(Key={"PK": "INVOICE#inv1", "SK": "INVOICE"})["Item"]
        assert len(item["events"]) == 3  # n1..n3 in the item, n4 and n5 items of their own
        assert [e.detail for e in repo.events("inv1")] == ["written as an item, before", "n1", "n2", "n3", "n4", "n5"]


def _held(repo: DynamoInvoiceRepository, numbers: range) -> list[Invoice]:
    for n in numbers:
        repo.put(_invoice(n).model_copy(update={"status": InvoiceStatus.HELD}))
    return [repo.get(f"inv{n}") for n in numbers]


def _releases(invoices: list[Invoice]) -> list[InvoiceMove]:
    note = InvoiceEvent(status="held", detail="note")  # made before the move's event, as a route's note is
    return [InvoiceMove(invoice.model_copy(update={"status": InvoiceStatus.RENDERED}), {InvoiceStatus.HELD},
                        InvoiceEvent(status="rendered", detail="released"), notes=(note,))
            for invoice in invoices]


def test_many_moves_go_in_one_transaction_and_one_that_moved_on_is_left_out(repo: DynamoInvoiceRepository) -> None:
    read = _held(repo, range(1, 6))
    repo.put(read[2].model_copy(update={"version": 2, "status": InvoiceStatus.QUEUED}))  # moved on since read
    with aws_requests() as requests:
        assert repo.transition_many(_releases(read)) == ["inv3"]
    # The first transaction is refused as a whole for inv3's condition; the rest go again, together.
    assert [operation for operation, _ in requests.of("dynamodb")] == ["TransactWriteItems"] * 2
    assert [repo.get(f"inv{n}").status for n in range(1, 6)] == [InvoiceStatus.RENDERED] * 2 + [
        InvoiceStatus.QUEUED] + [InvoiceStatus.RENDERED] * 2
    assert [e.detail for e in repo.events("inv1")] == ["note", "released"]  # the notes first, in the same write
    assert repo.events("inv3") == []


def test_more_moves_than_one_transaction_takes_go_in_several(repo: DynamoInvoiceRepository) -> None:
    read = _held(repo, range(1, 131))
    with aws_requests() as requests:
        assert repo.transition_many(_releases(read)) == []
    assert [operation for operation, _ in requests.of("dynamodb")] == ["TransactWriteItems"] * 2  # 100 + 30
    assert {repo.get(f"inv{n}").status for n in range(1, 131)} == {InvoiceStatus.RENDERED}


def test_a_chunk_another_transaction_keeps_cancelling_is_written_move_by_move_with_its_notes(
    repo: DynamoInvoiceRepository,
) -> None:
    read = _held(repo, range(1, 6))
    repo.put(read[3].model_copy(update={"version": 2, "status": InvoiceStatus.QUEUED}))  # moved on since read
    with conflict_dynamodb_writes({"INVOICE#inv2"}, transactions=TRANSACTION_ATTEMPTS), aws_requests() as requests:
        assert repo.transition_many(_releases(read)) == ["inv4"]
    assert [operation for operation, _ in requests.of("dynamodb")] == (
        ["TransactWriteItems"] * TRANSACTION_ATTEMPTS + ["UpdateItem"] * 5)
    assert [repo.get(f"inv{n}").status for n in range(1, 6)] == [InvoiceStatus.RENDERED] * 3 + [
        InvoiceStatus.QUEUED, InvoiceStatus.RENDERED]
    assert [e.detail for e in repo.events("inv2")] == ["note", "released"]  # written once, notes first
    assert repo.events("inv4") == []


def test_a_move_still_busy_alone_ends_the_call_naming_what_was_not_written(repo: DynamoInvoiceRepository) -> None:
    read = _held(repo, range(1, 131))  # two transactions: 100 + 30
    with conflict_dynamodb_writes({"INVOICE#inv51"}, transactions=TRANSACTION_ATTEMPTS, single_writes=1), \
            pytest.raises(StoreBusy) as busy:
        repo.transition_many(_releases(read))
    assert busy.value.not_written == tuple(f"inv{n}" for n in range(51, 131)) and busy.value.moved_on == ()
    assert busy.value.retry_after_seconds > 0
    assert {repo.get(f"inv{n}").status for n in range(1, 51)} == {InvoiceStatus.RENDERED}
    assert {repo.get(f"inv{n}").status for n in range(51, 131)} == {InvoiceStatus.HELD}


def test_a_transaction_chunk_stays_under_the_request_size() -> None:
    big = {"Update": {"data": b"x" * 400_000}}  # an item near DynamoDB's 400 KB
    chunks = [len(chunk) for chunk in transaction_chunks([(n, big) for n in range(20)])]
    assert sum(chunks) == 20 and max(chunks) < 10  # 3 MB of repr at most: never the 4 MB a request takes
    small = [len(chunk) for chunk in transaction_chunks([(n, {"Update": {}}) for n in range(250)])]
    assert small == [100, 100, 50]
