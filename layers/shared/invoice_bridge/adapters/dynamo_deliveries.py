"""DynamoDB `DeliveryLedger`: one item per invoice version, moved only by conditional writes.

Keys (docs/dynamodb.md): PK `INVOICE#{id}`, SK `DELIVERY#{version:06d}`; once sent, GSI1 `DELIVERIES` /
`{sent_at}#{invoice_id}` so the dispatch report can read a period. An e-mail delivery, once sent, also
has a lookup item PK `SESMSG#{message id}`, SK `SESMSG` → invoice id and version, written in the same
transaction, so an SES bounce/complaint/delivery notification finds its delivery.

A `sending` delivery also carries its lease at the top level (`sending_at`: epoch microseconds, 0 when
given back; the record's JSON keeps the datetime): what `take_over` conditions on. A `sending` item
written before the attribute existed has none, and the first takeover writes it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ..models.delivery import Delivery, DeliveryState
from ..ports import ConflictError, InvoiceMove, ItemTooLarge
from .aws import TableAdapter
from .dynamo_batch import batch_get, query_items
from .dynamo_conditional import put_if, write_all_if, write_if
from .dynamo_invoices import DynamoInvoiceRepository

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Complaints can come weeks after the e-mail; the lookup is cleaned up by TTL well after that.
_MESSAGE_LOOKUP_TTL = timedelta(days=180)


def _keys(invoice_id: str, version: int) -> dict[str, str]:
    return {"PK": f"INVOICE#{invoice_id}", "SK": f"DELIVERY#{version:06d}"}


def _message_keys(message_id: str) -> dict[str, str]:
    return {"PK": f"SESMSG#{message_id}", "SK": "SESMSG"}


class DynamoDeliveryLedger(TableAdapter):
    def _item(self, delivery: Delivery) -> dict[str, object]:
        item: dict[str, object] = {
            **_keys(delivery.invoice_id, delivery.version),
            "type": "delivery",
            "state": delivery.state.value,
            "data": delivery.model_dump_json(),
        }
        if delivery.state == DeliveryState.SENDING:
            item["sending_at"] = _lease_value(delivery.sending_at)
        if delivery.sent_at is not None:
            item["GSI1PK"] = "DELIVERIES"
            item["GSI1SK"] = f"{delivery.sent_at.astimezone(UTC).isoformat()}#{delivery.invoice_id}"
        return item

    def get(self, invoice_id: str, version: int) -> Delivery | None:
        item = self._table.get_item(Key=_keys(invoice_id, version), ConsistentRead=True).get("Item")
        return Delivery.model_validate_json(item["data"]) if item else None

    def get_many(self, versions: Collection[tuple[str, int]]) -> dict[tuple[str, int], Delivery]:
        """The records of `versions` in one BatchGetItem per 100 (dynamo_batch.py), strongly consistent as
        `get` is."""
        items = batch_get(self._table_name, [_keys(invoice_id, version) for invoice_id, version in versions],
                          attributes=("data",))
        deliveries = (Delivery.model_validate_json(str(item["data"])) for item in items)
        return {(delivery.invoice_id, delivery.version): delivery for delivery in deliveries}

    def create(self, delivery: Delivery, invoice_move: InvoiceMove | None = None) -> bool:
        """Record a new delivery; False (nothing written) when the version has one already. With
        `invoice_move` (dispatch's claim), the invoice's move and event in the same request, all or none:
        ConflictError, nothing written, when the invoice's condition no longer holds."""
        moves = self._invoice_writes(invoice_move)
        if moves:
            put = {"TableName": self._table_name, "Item": self._item(delivery),
                   "ConditionExpression": "attribute_not_exists(PK)"}
            failed = write_all_if([{"Put": put}, *moves])
            if failed is not None and failed > 0:
                raise ConflictError(f"invoice {delivery.invoice_id} moved before its claim")
            return failed is None
        if invoice_move is not None:  # an invoice that moves on its own (_invoice_writes): the caller's claim
            raise ConflictError(f"invoice {delivery.invoice_id} is claimed on its own")
        try:
            write_if({"Put": {"TableName": self._table_name, "Item": self._item(delivery),
                              "ConditionExpression": "attribute_not_exists(PK)"}},
                     conflict=f"delivery {delivery.invoice_id} v{delivery.version} exists already")
        except ConflictError:
            return False
        return True

    def transition(
        self, delivery: Delivery, from_states: Sequence[str], invoice_move: InvoiceMove | None = None
    ) -> bool:
        """Move the record if it is in one of `from_states` (ConflictError otherwise), with its message
        lookup; with `invoice_move`, the invoice's move and event in the same transaction: one request for
        both records. When only the invoice's condition fails (it moved on), the record is written alone
        and False returned."""
        if not from_states:
            raise ValueError("from_states must not be empty")
        names = {f":s{i}": str(state) for i, state in enumerate(from_states)}
        put = {
            "TableName": self._table_name,
            "Item": self._item(delivery),
            "ConditionExpression": f"attribute_exists(PK) AND #state IN ({', '.join(names)})",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": names,
        }
        lookup = self._message_lookup(delivery)
        also = [lookup] if lookup is not None else []
        conflict = f"delivery {delivery.invoice_id} v{delivery.version} is not in {list(from_states)}"
        moves = self._invoice_writes(invoice_move)
        if moves:
            failed = write_all_if(
                [{"Put": put}, *moves, *({"Put": {"TableName": self._table_name, "Item": item}} for item in also)]
            )
            if failed is None:
                return True
            if failed == 0:
                raise ConflictError(conflict)
        # The record and its message lookup together, or neither.
        put_if(put, also=also, conflict=conflict)
        return False

    def take_over(self, delivery: Delivery, lease_read: datetime | None) -> None:
        """Write `delivery` (still `sending`, its new lease) only if the record is `sending` under the lease
        its run read (`sending_at`, or none): two runs that read the same run-out lease cannot both take
        it. ConflictError when another run moved it or took it first. An item from before the top-level
        lease (no `sending_at` attribute) is taken on the state alone."""
        put = {
            "TableName": self._table_name,
            "Item": self._item(delivery),
            "ConditionExpression": "#state = :sending AND (#lease = :read OR attribute_not_exists(#lease))",
            "ExpressionAttributeNames": {"#state": "state", "#lease": "sending_at"},
            "ExpressionAttributeValues": {":sending": DeliveryState.SENDING.value, ":read": _lease_value(lease_read)},
        }
        put_if(put, conflict=f"delivery {delivery.invoice_id} v{delivery.version} was taken over or moved")

    def _invoice_writes(self, move: InvoiceMove | None) -> list[dict[str, Any]]:
        """The invoice's update for the transaction; none for an invoice whose rows would first have to go
        to S3 (never one read from the table: its rows are there already), which moves on its own."""
        if move is None:
            return []
        try:
            return [DynamoInvoiceRepository(self._table_name).transition_write(
                move.invoice, move.from_statuses, move.event, notes=move.notes
            )]
        except ItemTooLarge:
            return []

    def _message_lookup(self, delivery: Delivery) -> dict[str, object] | None:
        """The `SESMSG#` item for an e-mail delivery that has just been recorded as sent."""
        if delivery.channel != "email" or delivery.state != "sent" or not delivery.operator_invoice_id:
            return None
        expires = (delivery.sent_at or delivery.updated_at) + _MESSAGE_LOOKUP_TTL
        return {
            **_message_keys(delivery.operator_invoice_id),
            "type": "ses_message",
            "invoice_id": delivery.invoice_id,
            "version": delivery.version,
            "expires_at": int(expires.timestamp()),
        }

    def find_by_message_id(self, message_id: str) -> Delivery | None:
        """The e-mail delivery whose SES message id this is, or None (not ours, or not recorded)."""
        item = self._table.get_item(Key=_message_keys(message_id), ConsistentRead=True).get("Item")
        if item is None:
            return None
        return self.get(str(item["invoice_id"]), int(item["version"]))

    def sent_between(self, start: datetime, end: datetime) -> Iterator[Delivery]:
        """Deliveries sent in [start, end), oldest first (GSI1)."""
        from boto3.dynamodb.conditions import Key

        condition = Key("GSI1PK").eq("DELIVERIES") & Key("GSI1SK").between(
            start.astimezone(UTC).isoformat(), f"{end.astimezone(UTC).isoformat()}~"
        )
        query = {"IndexName": "GSI1", "KeyConditionExpression": condition}
        # GSI1 holds keys only; a delivery's GSI1 keys are written once, when it is sent, and never change.
        for item in query_items(self._table_name, query, consistent=False, attributes=("data",)):
            delivery = Delivery.model_validate_json(str(item["data"]))
            if delivery.sent_at is not None and start <= delivery.sent_at < end:
                yield delivery


def _lease_value(sending_at: datetime | None) -> int:
    """The lease as the item's top-level `sending_at`: exact (microseconds), so the equality of a takeover's
    condition holds for the very lease read; 0 for none."""
    return 0 if sending_at is None else (sending_at - _EPOCH) // timedelta(microseconds=1)


__all__ = ["DynamoDeliveryLedger"]
