"""Invoices and their events in the single table (keys in docs/dynamodb.md)."""

from __future__ import annotations

import base64
import json
import time
import uuid
import zlib
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from boto3.dynamodb.types import Binary

from ..invoice_rows import stored_json
from ..models.invoice import AWAITING_APPROVAL, SEND_DELAY, Invoice, InvoiceEvent, InvoiceStatus
from ..ports import ConflictError, DocumentStore, InvoiceMove, NotFound, StoreBusy
from .aws import TableAdapter, query_all, retry_pause
from .dynamo_batch import batch_get, items_behind, query_items
from .dynamo_conditional import put_if, transaction_chunks, write_all_if, write_if


def _encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode()


def _decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, json.JSONDecodeError) as exc:
        raise ValueError("invalid cursor") from exc
    if not isinstance(decoded, dict):
        raise ValueError("invalid cursor")
    return decoded


def _waiting_keys(invoice: Invoice) -> dict[str, str]:
    """GSI3, sparse: only a held invoice that waits for approval (`WAITING#awaiting_approval` /
    `{issuer_id}#{updated_at}#{id}`) or for its send time (`WAITING#send_delay` / `{send_at}#{id}`) has
    these keys; any other write of the item drops them (a put replaces the whole item)."""
    if invoice.status != InvoiceStatus.HELD:
        return {}
    if invoice.status_reason == AWAITING_APPROVAL:
        sort = f"{invoice.issuer_id}#{_utc(invoice.updated_at).isoformat()}#{invoice.id}"
    elif invoice.status_reason == SEND_DELAY and invoice.send_at is not None:
        sort = f"{_utc(invoice.send_at).isoformat()}#{invoice.id}"
    else:
        return {}
    return {"GSI3PK": f"WAITING#{invoice.status_reason}", "GSI3SK": sort}


# Attributes an invoice item has only sometimes: a write of an invoice without them removes them.
_SOMETIMES = ("channel", "GSI3PK", "GSI3SK")
# The history lives in the invoice item (`events`, a list appended to by the write that moves the invoice,
# so a move and its event are one conditional request). A standalone event past this many is written as
# an item of its own (`EVENT#`), as all were before, so the item never nears DynamoDB's 400 KB: an event is
# about 150 bytes, the invoice JSON compressed rarely 20 KB. Moves (one per status change or version)
# always go into the item.
EVENTS_IN_ITEM = 200
_INDEX_KEYS = {"GSI1": ("GSI1PK", "GSI1SK"), "GSI2": ("GSI2PK", "GSI2SK")}
# GSI1 and GSI2 hold keys (GSI2 also `issuer_id` and `channel`, for its filters), never the item: a move
# rewrites only their keys. A reader reads the invoices behind a page of entries by key and, on GSI2, keeps
# only those still in the status it asked for (one moved since the index answered is where it is now).
_STILL_IN_STATUS = ("GSI2PK",)
_INVOICE_ATTRIBUTES = ("data",)
# What a read of the invoice by key asks for: the model, not the history (`events`).
INVOICE_READ = ("PK", "SK", "data")
# The index queries a listing reads, in order, each named for the cursor.
_Segments = list[tuple[str, dict[str, Any]]]
_Invoices = list[Invoice]


def _invoices(found: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> list[Invoice]:
    return [invoice_of(item) for _, _, item in found]


def _compressed(data: str) -> bytes:
    """The invoice JSON as the item keeps it: zlib-compressed (a binary attribute). Every write of the
    invoice item is billed per started KB of the item (twice in a transaction, again for each index it is
    in); the JSON shrinks about fourfold, and so do the write units of every status move."""
    return zlib.compress(data.encode(), 6)


def invoice_key(invoice_id: str) -> dict[str, str]:
    return {"PK": f"INVOICE#{invoice_id}", "SK": "INVOICE"}


def invoice_of(item: dict[str, Any]) -> Invoice:
    """The invoice of a stored item: `data` compressed (binary), or the JSON text items written before
    compression hold (read as they are; their next write compresses them)."""
    data = item["data"]
    if isinstance(data, Binary):
        raw: bytes = data.value  # type: ignore[attr-defined]  # boto3-stubs omit Binary.value (and type __bytes__ as str)
        return Invoice.model_validate_json(zlib.decompress(raw))
    return Invoice.model_validate_json(data)


# A chunk's transaction is sent this many times while DynamoDB cancels it for now, then written move by move.
TRANSACTION_ATTEMPTS = 3
_Chunk = list[tuple[InvoiceMove, dict[str, Any]]]


def _write_together(chunk: _Chunk, moved_on: list[str]) -> None:
    """The chunk's moves in one transaction; each whose condition fails is taken out of `chunk` into
    `moved_on` and the rest sent again. StoreBusy when DynamoDB cancelled it for now TRANSACTION_ATTEMPTS
    times (after a jittered pause each): `chunk` then holds the moves not written."""
    busy = 0
    while chunk:
        try:
            failed = write_all_if([write for _move, write in chunk])
        except StoreBusy:
            busy += 1
            if busy >= TRANSACTION_ATTEMPTS:
                raise
            time.sleep(retry_pause(busy))
            continue
        if failed is None:
            return
        moved_on.append(chunk.pop(failed)[0].invoice.id)


def _write_alone(chunk: _Chunk, moved_on: list[str]) -> None:
    """The chunk's moves one conditional write each (`transition`'s); a failed condition goes to `moved_on`.
    StoreBusy at the first write refused for now, naming it and the chunk's moves after it (not written)."""
    for position, (move, write) in enumerate(chunk):
        try:
            write_if(write, conflict=f"invoice {move.invoice.id} is no longer v{move.invoice.version}")
        except ConflictError:
            moved_on.append(move.invoice.id)
        except StoreBusy as busy:
            raise StoreBusy(str(busy), busy.retry_after_seconds,
                            not_written=[m.invoice.id for m, _write in chunk[position:]]) from busy


@dataclass(frozen=True)
class _Condition:
    """A write's condition: the expression with its attribute names and values."""

    expression: str
    names: dict[str, str]
    values: dict[str, Any]


# A read of the invoice leaves its history (`events`) where it is: only the console and the API show it.
_INVOICE_ONLY = "PK, SK, #data"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment


class DynamoInvoiceRepository(TableAdapter):
    """`documents` keeps the rows of invoices too large for one item (invoice_rows.py); without it such an
    invoice is refused with ItemTooLarge."""

    def __init__(self, table_name: str, documents: DocumentStore | None = None, events_in_item: int = EVENTS_IN_ITEM):
        super().__init__(table_name)
        self._documents = documents
        self._events_in_item = events_in_item

    @staticmethod
    def _key(invoice_id: str) -> dict[str, str]:
        return invoice_key(invoice_id)

    def _item(self, invoice: Invoice) -> dict[str, Any]:
        return {
            **self._key(invoice.id),
            "GSI1PK": f"ISSUER#{invoice.issuer_id}",
            "GSI1SK": f"INVOICE#{invoice.created_at.isoformat()}#{invoice.id}",
            "GSI2PK": f"STATUS#{invoice.status.value}",
            # UTC, so a range of it is a period (the dispatch report reads failed invoices by period).
            "GSI2SK": f"{_utc(invoice.updated_at).isoformat()}#{invoice.id}",
            "issuer_id": invoice.issuer_id,
            "status": invoice.status.value,
            # Top level so that status moves can be conditional on it (`transition`).
            "version": invoice.version,
            "updated_at": invoice.updated_at.isoformat(),
            # The whole model as JSON (Decimal travels as strings, never as float); big rows apart in S3.
            "data": _compressed(stored_json(invoice, self._documents)),
            # For filters on a status listing (the status poller leaves e-mail invoices out).
            **({"channel": invoice.channel} if invoice.channel else {}),
            **_waiting_keys(invoice),
        }

    def get(self, invoice_id: str) -> Invoice:
        item = self._table.get_item(
            Key=self._key(invoice_id), ConsistentRead=True, ProjectionExpression=_INVOICE_ONLY,
            ExpressionAttributeNames={"#data": "data"},
        ).get("Item")
        if not item:
            raise NotFound(f"invoice {invoice_id} not found")
        return invoice_of(item)

    def get_many(self, invoice_ids: Collection[str]) -> dict[str, Invoice]:
        """BatchGetItem, 100 keys a request, consistent as `get` (dynamo_batch.py)."""
        items = batch_get(self._table_name, [self._key(i) for i in invoice_ids], attributes=INVOICE_READ)
        return {invoice.id: invoice for invoice in map(invoice_of, items)}

    def find_by_source(self, issuer_id: str, source_id: str) -> Invoice | None:
        link = self._table.get_item(
            Key={"PK": f"SOURCE#{issuer_id}#{source_id}", "SK": "SOURCE"}, ConsistentRead=True
        ).get("Item")
        if not link:
            return None
        return self.get(link["invoice_id"])

    def create(self, invoice: Invoice, events: Sequence[InvoiceEvent] = ()) -> bool:
        """Write a new invoice with its first events, and its source link, in one transaction (one request
        for the import); False, and nothing of it written, when the invoice exists already (its id derives from
        issuer and source: another sync of the integration, run at the same time by a duplicate message,
        imported it first). The link is then written alone: it is the same, and an invoice imported before
        the link joined the transaction may lack it."""
        put = {
            "TableName": self._table_name,
            "Item": {**self._item(invoice), **({"events": [e.model_dump_json() for e in events]} if events else {})},
            "ConditionExpression": "attribute_not_exists(PK)",
        }
        try:
            put_if(put, also=[self._link_item(invoice)], conflict=f"invoice {invoice.id} exists already")
        except ConflictError:
            self._table.put_item(Item=self._link_item(invoice))
            return False
        return True

    @staticmethod
    def _link_item(invoice: Invoice) -> dict[str, Any]:
        return {"PK": f"SOURCE#{invoice.issuer_id}#{invoice.source_id}", "SK": "SOURCE", "invoice_id": invoice.id}

    def put(
        self, invoice: Invoice, expected_updated_at: datetime | None = None, events: Sequence[InvoiceEvent] = ()
    ) -> None:
        """Write the invoice, with `events` added to its history; with `expected_updated_at` only if nobody
        changed it since it was read.

        A blind write (no `expected_updated_at`: the import of a new invoice) also writes the source link.
        A conditional write updates an invoice that was read, i.e. one that exists, and its link was
        written with it (the id is derived from issuer and source, so the link never changes): writing
        the link again on every status move would only double the writes."""
        previous = invoice.updated_at
        invoice.updated_at = max(datetime.now(previous.tzinfo), previous)
        unchanged = None
        if expected_updated_at is not None:
            unchanged = _Condition("#updated = :expected", {"#updated": "updated_at"},
                                   {":expected": expected_updated_at.isoformat()})
        try:
            write_if({"Update": self._update(invoice, events, unchanged)},
                     conflict=f"invoice {invoice.id} was changed concurrently")
        except ConflictError:
            invoice.updated_at = previous
            raise
        if expected_updated_at is None:
            self._table.put_item(Item=self._link_item(invoice))

    def _update(
        self, invoice: Invoice, events: Sequence[InvoiceEvent] = (), condition: _Condition | None = None
    ) -> dict[str, Any]:
        """A TransactWriteItems Update of the invoice item: every attribute of `_item` set (the ones it lacks
        removed) and `events` appended to the history the item keeps, under `condition`."""
        item = self._item(invoice)
        names: dict[str, str] = dict(condition.names) if condition else {}
        values: dict[str, Any] = dict(condition.values) if condition else {}
        sets = []
        for i, (name, value) in enumerate((k, v) for k, v in item.items() if k not in ("PK", "SK")):
            names[f"#a{i}"], values[f":a{i}"] = name, value
            sets.append(f"#a{i} = :a{i}")
        if events:
            names["#events"] = "events"
            values[":events"], values[":none"] = [e.model_dump_json() for e in events], []
            sets.append("#events = list_append(if_not_exists(#events, :none), :events)")
        gone = [name for name in _SOMETIMES if name not in item]
        names.update({f"#r{i}": name for i, name in enumerate(gone)})
        removes = f" REMOVE {', '.join(f'#r{i}' for i in range(len(gone)))}" if gone else ""
        update = {
            "TableName": self._table_name,
            "Key": self._key(invoice.id),
            "UpdateExpression": "SET " + ", ".join(sets) + removes,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        return {**update, **({"ConditionExpression": condition.expression} if condition else {})}

    def transition(
        self, invoice: Invoice, from_statuses: Collection[str], event: InvoiceEvent | None = None
    ) -> None:
        """Write `invoice` only if the stored invoice is still at `invoice.version` and in one of
        `from_statuses`; with `event` appended to its history in the same write (the history never shows a
        move that lost).
        Raises ConflictError otherwise: a newer version, a cancellation or another move got there first
        and is left as it is."""
        write_if(self.transition_write(invoice, from_statuses, event),
                 conflict=f"invoice {invoice.id} is no longer v{invoice.version} in {sorted(map(str, from_statuses))}")

    def transition_write(
        self, invoice: Invoice, from_statuses: Collection[str], event: InvoiceEvent | None = None,
        *, notes: Sequence[InvoiceEvent] = (),
    ) -> dict[str, Any]:
        """The TransactWriteItems operation of a move: the invoice's conditional update with `notes` and
        its event appended (also what a delivery's move writes with it, dynamo_deliveries.py)."""
        if not from_statuses:
            raise ValueError("from_statuses must not be empty")
        statuses = {f":s{i}": str(status) for i, status in enumerate(from_statuses)}
        still_there = _Condition(
            # An item written before `version` was a top-level attribute passes on its status alone.
            f"(#version = :version OR attribute_not_exists(#version)) AND #status IN ({', '.join(statuses)})",
            {"#version": "version", "#status": "status"},
            {":version": invoice.version, **statuses},
        )
        return {"Update": self._update(invoice, [*notes, *([event] if event else [])], still_there)}

    def transition_many(self, moves: Sequence[InvoiceMove]) -> list[str]:
        """`transition` of many invoices together: one TransactWriteItems per 100 moves (and about 3 MB, under
        the request's 4 MB), all or none. A move whose condition fails is left out and the rest written
        again, so a release of 60 costs one request unless one of them moved on since it was read. Returns
        the ids of those left out. Transactional writes cost twice the write units of single ones.

        A transaction cancelled for now (another transaction at one of its items: TransactionConflict, or
        throttling; neither DynamoDB nor the SDK retries it) is sent again after a short jittered pause, up
        to TRANSACTION_ATTEMPTS times; a chunk still refused then is written move by move (`transition`'s
        single conditional writes), so that one busy item holds back only itself. A single write refused
        for now ends the call with StoreBusy naming the moves not written (that one and every one after it)
        and those moved on: each move is written, reported moved on, or named not written."""
        moved_on: list[str] = []
        chunks = list(transaction_chunks([(move, self.transition_write(
            move.invoice, move.from_statuses, move.event, notes=move.notes)) for move in moves]))
        for position, chunk in enumerate(chunks):
            try:
                _write_together(chunk, moved_on)
            except StoreBusy:
                try:
                    _write_alone(chunk, moved_on)
                except StoreBusy as busy:
                    later = [move.invoice.id for rest in chunks[position + 1:] for move, _write in rest]
                    raise StoreBusy(str(busy), busy.retry_after_seconds,
                                    not_written=[*busy.not_written, *later], moved_on=moved_on) from busy
        return moved_on

    def updated_before(self, status: str, before: datetime, limit: int) -> list[Invoice]:
        """Up to `limit` invoices in `status` whose last write is older than `before`, oldest first: a
        range query on GSI2 (`STATUS#{status}` / `{updated_at}#{id}`), never a scan."""
        condition = Key("GSI2PK").eq(f"STATUS#{status}") & Key("GSI2SK").lt(before.astimezone(UTC).isoformat())
        kwargs: dict[str, Any] = {"IndexName": "GSI2", "KeyConditionExpression": condition, "Limit": limit}
        found: list[Invoice] = []
        while len(found) < limit:
            page = self._table.query(**kwargs)
            for _, item in self._behind(page["Items"], _STILL_IN_STATUS):
                invoice = invoice_of(item)
                if invoice.updated_at < before:  # else written since the index answered: not stuck
                    found.append(invoice)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            kwargs["Limit"] = limit - len(found)
        return found[:limit]

    def _behind(self, entries: Sequence[dict[str, Any]], current: Sequence[str]) -> list[tuple[Any, dict[str, Any]]]:
        """The invoice items behind a page of GSI1/GSI2 entries, in the page's order (`items_behind`)."""
        if not entries:
            return []
        return items_behind(self._table_name, entries, current=current, attributes=_INVOICE_ATTRIBUTES)

    def waiting_for_approval(self, issuer_id: str | None = None) -> list[Invoice]:
        """Every invoice waiting for the office's approval, per issuer and oldest first (GSI3)."""
        condition: ConditionBase = Key("GSI3PK").eq(f"WAITING#{AWAITING_APPROVAL}")
        if issuer_id is not None:
            condition = condition & Key("GSI3SK").begins_with(f"{issuer_id}#")
        found = query_all(self._table, IndexName="GSI3", KeyConditionExpression=condition)
        return [invoice_of(item) for item in found]

    def due_to_send(self, now: datetime, limit: int) -> list[Invoice]:
        """Up to `limit` invoices whose send delay is over at `now`, the earliest first (GSI3)."""
        condition = Key("GSI3PK").eq(f"WAITING#{SEND_DELAY}") & Key("GSI3SK").lt(now.astimezone(UTC).isoformat())
        kwargs: dict[str, Any] = {"IndexName": "GSI3", "KeyConditionExpression": condition}
        found: list[Invoice] = []
        while len(found) < limit:
            page = self._table.query(**kwargs, Limit=limit - len(found))
            found.extend(invoice_of(item) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found

    @staticmethod
    def _event_item(invoice_id: str, event: InvoiceEvent) -> dict[str, Any]:
        """An event as an item of its own: past `events_in_item`, and every event written before the history
        moved into the invoice item."""
        return {
            "PK": f"INVOICE#{invoice_id}",
            "SK": f"EVENT#{event.at.isoformat()}#{uuid.uuid4().hex[:8]}",
            "data": event.model_dump_json(),
        }

    def add_event(self, invoice_id: str, event: InvoiceEvent) -> None:
        """Append one event to the invoice's history: one update of the invoice item while its history is
        short, else (or for an invoice not stored) an item of its own."""
        try:  # write_if: an SDK retry of an applied append is done, not appended again
            write_if({"Update": {
                "TableName": self._table_name,
                "Key": self._key(invoice_id),
                "UpdateExpression": "SET #events = list_append(if_not_exists(#events, :none), :events)",
                "ConditionExpression": "attribute_exists(PK) AND (attribute_not_exists(#events) OR size(#events) < :cap)",
                "ExpressionAttributeNames": {"#events": "events"},
                "ExpressionAttributeValues": {":events": [event.model_dump_json()], ":none": [], ":cap": self._events_in_item},
            }}, conflict=f"invoice {invoice_id} keeps no more events")
        except ConflictError:
            self._table.put_item(Item=self._event_item(invoice_id, event))

    def events(self, invoice_id: str) -> list[InvoiceEvent]:
        """The invoice's history, oldest first: the events its item keeps and any kept as items of their own
        (`EVENT#…` sorts between `DELIVERY#…` and `INVOICE`, so one query reads both and no delivery)."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("PK").eq(f"INVOICE#{invoice_id}") & Key("SK").between("EVENT#", "INVOICE"),
            "ProjectionExpression": "SK, #events, #data",
            "ExpressionAttributeNames": {"#events": "events", "#data": "data"},
            "ConsistentRead": True,
        }
        found: list[InvoiceEvent] = []
        for item in query_all(self._table, **kwargs):
            if item["SK"] == "INVOICE":
                found.extend(InvoiceEvent.model_validate_json(e) for e in item.get("events", []))
            else:
                found.append(InvoiceEvent.model_validate_json(item["data"]))
        return sorted(found, key=lambda e: _utc(e.at))

    def updated_between(
        self, status: str, start: datetime, end: datetime, issuer_id: str | None = None
    ) -> Iterator[Invoice]:
        """Invoices of `status` last changed in [start, end): a range of GSI2 (`{updated_at}#{id}`, UTC)."""
        lower, upper = start.astimezone(UTC).isoformat(), end.astimezone(UTC).isoformat()
        kwargs: dict[str, Any] = {
            "IndexName": "GSI2",
            "KeyConditionExpression": Key("GSI2PK").eq(f"STATUS#{status}") & Key("GSI2SK").between(lower, upper),
        }
        if issuer_id is not None:
            kwargs["FilterExpression"] = Attr("issuer_id").eq(issuer_id)
        for item in query_items(self._table_name, kwargs, current=_STILL_IN_STATUS, attributes=_INVOICE_ATTRIBUTES):
            invoice = invoice_of(item)
            if start <= invoice.updated_at < end:
                yield invoice

    def list(
        self,
        issuer_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        exclude_channel: str | None = None,
    ) -> tuple[list[Invoice], str | None]:
        """A page of invoices: of one status (GSI2, least recently changed first), of one issuer (GSI1, newest
        first), or all (every status in turn, most recently changed first). `exclude_channel` (with `status`)
        leaves out the invoices written with that channel. Every page but the last holds `limit` invoices,
        filters or not; a cursor is given only when more invoices follow."""
        return self._fill(self._segments(issuer_id, status, exclude_channel), limit, cursor)

    @staticmethod
    def _segments(
        issuer_id: str | None, status: str | None, exclude_channel: str | None
    ) -> _Segments:
        """The index queries a listing reads, in order, each named for the cursor."""
        if status is None and issuer_id is not None:
            key = Key("GSI1PK").eq(f"ISSUER#{issuer_id}") & Key("GSI1SK").begins_with("INVOICE#")
            return [("issuer", {"IndexName": "GSI1", "KeyConditionExpression": key, "ScanIndexForward": False})]
        conditions: list[ConditionBase] = []
        if issuer_id is not None:
            conditions.append(Attr("issuer_id").eq(issuer_id))
        if exclude_channel is not None:
            conditions.append(Attr("channel").ne(exclude_channel))
        statuses = [status] if status is not None else [s.value for s in InvoiceStatus]
        segments = []
        for name in statuses:
            query: dict[str, Any] = {"IndexName": "GSI2", "KeyConditionExpression": Key("GSI2PK").eq(f"STATUS#{name}")}
            if status is None:
                query["ScanIndexForward"] = False
            if conditions:
                query["FilterExpression"] = conditions[0] if len(conditions) == 1 else conditions[0] & conditions[1]
            segments.append((name, query))
        return segments

    def _fill(self, segments: _Segments, limit: int, cursor: str | None) -> tuple[_Invoices, str | None]:
        """Read the segments from the cursor on until `limit` invoices and one more are found (a filtered
        query page can hold few or none); the cursor points at the last invoice returned."""
        names = [name for name, _ in segments]
        position = _decode_cursor(cursor)
        if position is not None and (position.get("s") not in names or not isinstance(position.get("k"), dict)):
            raise ValueError("invalid cursor")
        found: list[tuple[str, dict[str, Any], dict[str, Any]]] = []  # (segment, index entry, item)
        for name, query in segments[names.index(position["s"]) if position else 0 :]:
            start = position["k"] if position and name == position["s"] else None
            index_keys = _INDEX_KEYS[query["IndexName"]]
            while True:
                kwargs = {**query, "Limit": limit + 1, **({"ExclusiveStartKey": start} if start else {})}
                page = self._table.query(**kwargs)
                for entry, item in self._behind(page.get("Items", []), index_keys[:1]):
                    found.append((name, entry, item))
                    if len(found) > limit:
                        # The cursor is the index entry's position (the item may have moved on since).
                        last_segment, last, _ = found[limit - 1]
                        key = {k: last[k] for k in ("PK", "SK", *index_keys)}
                        return _invoices(found[:limit]), _encode_cursor({"s": last_segment, "k": key})
                start = page.get("LastEvaluatedKey")
                if not start:
                    break
        return _invoices(found), None

    def source_links(self, issuer_id: str, source_ids: Collection[str]) -> dict[str, str]:
        """Which of `source_ids` have an invoice of ours, and its id: the links in BatchGetItems (a page's
        at once, consistently), the invoices themselves not read."""
        keys = [{"PK": f"SOURCE#{issuer_id}#{source_id}", "SK": "SOURCE"} for source_id in source_ids]
        prefix = f"SOURCE#{issuer_id}#"
        return {item["PK"].removeprefix(prefix): item["invoice_id"] for item in batch_get(self._table_name, keys)}
