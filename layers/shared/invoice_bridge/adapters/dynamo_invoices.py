"""Invoices and their events in the single table (keys in docs/dynamodb.md)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from ..models.invoice import AWAITING_APPROVAL, SEND_DELAY, Invoice, InvoiceEvent, InvoiceStatus
from ..ports import ConflictError, NotFound
from .aws import table
from .dynamo_conditional import put_if


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
        sort = f"{invoice.issuer_id}#{invoice.updated_at.astimezone(UTC).isoformat()}#{invoice.id}"
    elif invoice.status_reason == SEND_DELAY and invoice.send_at is not None:
        sort = f"{invoice.send_at.astimezone(UTC).isoformat()}#{invoice.id}"
    else:
        return {}
    return {"GSI3PK": f"WAITING#{invoice.status_reason}", "GSI3SK": sort}


class DynamoInvoiceRepository:
    def __init__(self, table_name: str):
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return table(self._table_name)

    @staticmethod
    def _item(invoice: Invoice) -> dict[str, Any]:
        return {
            "PK": f"INVOICE#{invoice.id}",
            "SK": "INVOICE",
            "GSI1PK": f"ISSUER#{invoice.issuer_id}",
            "GSI1SK": f"INVOICE#{invoice.created_at.isoformat()}#{invoice.id}",
            "GSI2PK": f"STATUS#{invoice.status.value}",
            "GSI2SK": f"{invoice.updated_at.isoformat()}#{invoice.id}",
            "issuer_id": invoice.issuer_id,
            "status": invoice.status.value,
            # Top level so that status moves can be conditional on it (`transition`).
            "version": invoice.version,
            "updated_at": invoice.updated_at.isoformat(),
            # The whole model as JSON: Decimal travels as strings, never as float.
            "data": invoice.model_dump_json(),
            # For filters on a status listing (the status poller leaves e-mail invoices out).
            **({"channel": invoice.channel} if invoice.channel else {}),
            **_waiting_keys(invoice),
        }

    def get(self, invoice_id: str) -> Invoice:
        item = self._table.get_item(Key={"PK": f"INVOICE#{invoice_id}", "SK": "INVOICE"}, ConsistentRead=True).get(
            "Item"
        )
        if not item:
            raise NotFound(f"invoice {invoice_id} not found")
        return Invoice.model_validate_json(item["data"])

    def find_by_source(self, issuer_id: str, source_id: str) -> Invoice | None:
        link = self._table.get_item(
            Key={"PK": f"SOURCE#{issuer_id}#{source_id}", "SK": "SOURCE"}, ConsistentRead=True
        ).get("Item")
        if not link:
            return None
        return self.get(link["invoice_id"])

    def create(self, invoice: Invoice) -> bool:
        """Write a new invoice and its source link; False, and the invoice left as it is, when it exists
        already (its id derives from issuer and source: another sync of the integration, run at the same
        time by a duplicate message, imported it first). The link is written either way: it is the same,
        and a crash between the two writes is healed by the next sync."""
        created = True
        try:
            self._table.put_item(Item=self._item(invoice), ConditionExpression="attribute_not_exists(PK)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            created = False
        self._put_link(invoice)
        return created

    def _put_link(self, invoice: Invoice) -> None:
        self._table.put_item(
            Item={
                "PK": f"SOURCE#{invoice.issuer_id}#{invoice.source_id}",
                "SK": "SOURCE",
                "invoice_id": invoice.id,
            }
        )

    def put(self, invoice: Invoice, expected_updated_at: datetime | None = None) -> None:
        """Write the invoice; with `expected_updated_at` only if nobody changed it since it was read.

        A blind write (no `expected_updated_at`: the import of a new invoice) also writes the source link.
        A conditional write updates an invoice that was read, i.e. one that exists, and its link was
        written with it (the id is derived from issuer and source, so the link never changes): writing
        the link again on every status move would only double the writes."""
        previous = invoice.updated_at
        invoice.updated_at = max(datetime.now(previous.tzinfo), previous)
        condition: dict[str, Any] = {}
        if expected_updated_at is not None:
            condition = {"ConditionExpression": Attr("updated_at").eq(expected_updated_at.isoformat())}
        try:
            self._table.put_item(Item=self._item(invoice), **condition)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                invoice.updated_at = previous
                raise ConflictError(f"invoice {invoice.id} was changed concurrently") from exc
            raise
        if expected_updated_at is None:
            self._put_link(invoice)

    def transition(
        self, invoice: Invoice, from_statuses: Collection[str], event: InvoiceEvent | None = None
    ) -> None:
        """Write `invoice` only if the stored invoice is still at `invoice.version` and in one of
        `from_statuses`; with `event`, both in one transaction (the history never shows a move that lost).
        Raises ConflictError otherwise: a newer version, a cancellation or another move got there first
        and is left as it is."""
        if not from_statuses:
            raise ValueError("from_statuses must not be empty")
        statuses = {f":s{i}": str(status) for i, status in enumerate(from_statuses)}
        put = {
            "TableName": self._table_name,
            "Item": self._item(invoice),
            # An item written before `version` was a top-level attribute passes on its status alone.
            "ConditionExpression": (
                f"(#version = :version OR attribute_not_exists(#version)) AND #status IN ({', '.join(statuses)})"
            ),
            "ExpressionAttributeNames": {"#version": "version", "#status": "status"},
            "ExpressionAttributeValues": {":version": invoice.version, **statuses},
        }
        events = [self._event_item(invoice.id, event)] if event is not None else []
        put_if(put, also=events,
               conflict=f"invoice {invoice.id} is no longer v{invoice.version} in {sorted(map(str, from_statuses))}")

    def updated_before(self, status: str, before: datetime, limit: int) -> list[Invoice]:
        """Up to `limit` invoices in `status` whose last write is older than `before`, oldest first: a
        range query on GSI2 (`STATUS#{status}` / `{updated_at}#{id}`), never a scan."""
        condition = Key("GSI2PK").eq(f"STATUS#{status}") & Key("GSI2SK").lt(before.astimezone(UTC).isoformat())
        kwargs: dict[str, Any] = {"IndexName": "GSI2", "KeyConditionExpression": condition, "Limit": limit}
        found: list[Invoice] = []
        while len(found) < limit:
            page = self._table.query(**kwargs)
            found.extend(Invoice.model_validate_json(item["data"]) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            kwargs["Limit"] = limit - len(found)
        return found[:limit]

    def waiting_for_approval(self, issuer_id: str | None = None) -> list[Invoice]:
        """Every invoice waiting for the office's approval, per issuer and oldest first (GSI3)."""
        condition = Key("GSI3PK").eq(f"WAITING#{AWAITING_APPROVAL}")
        if issuer_id is not None:
            condition = condition & Key("GSI3SK").begins_with(f"{issuer_id}#")
        return self._query_all({"IndexName": "GSI3", "KeyConditionExpression": condition})

    def due_to_send(self, now: datetime, limit: int) -> list[Invoice]:
        """Up to `limit` invoices whose send delay is over at `now`, the earliest first (GSI3)."""
        condition = Key("GSI3PK").eq(f"WAITING#{SEND_DELAY}") & Key("GSI3SK").lt(now.astimezone(UTC).isoformat())
        return self._query_all({"IndexName": "GSI3", "KeyConditionExpression": condition}, limit)

    def _query_all(self, kwargs: dict[str, Any], limit: int | None = None) -> list[Invoice]:
        found: list[Invoice] = []
        while limit is None or len(found) < limit:
            if limit is not None:
                kwargs["Limit"] = limit - len(found)
            page = self._table.query(**kwargs)
            found.extend(Invoice.model_validate_json(item["data"]) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found

    @staticmethod
    def _event_item(invoice_id: str, event: InvoiceEvent) -> dict[str, Any]:
        return {
            "PK": f"INVOICE#{invoice_id}",
            "SK": f"EVENT#{event.at.isoformat()}#{uuid.uuid4().hex[:8]}",
            "data": event.model_dump_json(),
        }

    def add_event(self, invoice_id: str, event: InvoiceEvent) -> None:
        self._table.put_item(Item=self._event_item(invoice_id, event))

    def events(self, invoice_id: str) -> list[InvoiceEvent]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("PK").eq(f"INVOICE#{invoice_id}") & Key("SK").begins_with("EVENT#"),
            "ConsistentRead": True,
        }
        while True:
            page = self._table.query(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [InvoiceEvent.model_validate_json(i["data"]) for i in items]

    def list(
        self,
        issuer_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        exclude_channel: str | None = None,
    ) -> tuple[list[Invoice], str | None]:
        """A page of invoices: of one status (GSI2), of one issuer (GSI1), or all. `exclude_channel`
        (with `status`) leaves out the invoices written with that channel."""
        kwargs: dict[str, Any] = {"Limit": limit}
        start = _decode_cursor(cursor)
        if start:
            kwargs["ExclusiveStartKey"] = start
        if status is not None:
            kwargs.update(IndexName="GSI2", KeyConditionExpression=Key("GSI2PK").eq(f"STATUS#{status}"))
            conditions = []
            if issuer_id is not None:
                conditions.append(Attr("issuer_id").eq(issuer_id))
            if exclude_channel is not None:
                conditions.append(Attr("channel").ne(exclude_channel))
            if conditions:
                kwargs["FilterExpression"] = conditions[0] if len(conditions) == 1 else conditions[0] & conditions[1]
            page = self._table.query(**kwargs)
        elif issuer_id is not None:
            kwargs.update(
                IndexName="GSI1",
                KeyConditionExpression=Key("GSI1PK").eq(f"ISSUER#{issuer_id}") & Key("GSI1SK").begins_with("INVOICE#"),
            )
            kwargs["ScanIndexForward"] = False
            page = self._table.query(**kwargs)
        else:
            kwargs["FilterExpression"] = Attr("SK").eq("INVOICE")
            page = self._table.scan(**kwargs)
        invoices = [Invoice.model_validate_json(i["data"]) for i in page["Items"]]
        return invoices, _encode_cursor(page.get("LastEvaluatedKey"))
