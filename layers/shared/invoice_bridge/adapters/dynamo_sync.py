"""Sync decisions in the single table: `PK=INTEGRATION#{id}`, `SK=DECISION#{source_id}`.

The latest decision is in `selected`/`reason`/...; the first sync's one is copied to `first_*` and
marks the item as part of the reconciliation list. A parked decision (a source invoice that cannot be
read or mapped, or does not agree with ours) is also in the indexes: GSI1 `ISSUER#{issuer_id}` / `PARKED#{integration}#{source}` and
GSI2 `PARKED` / `{decided_at}#{integration}#{source}`; a later decision that is not parked takes it out.
While a parked decision's notice has not gone out it is also on the sparse GSI3, `WAITING#parked_notice` /
`{decided_at}#{integration}#{source}` (the sweeper's list, fetch/parked_notices.py); the notice's
claim is `notice_claimed_until`, and any later decision of the source invoice starts afresh.
Source links (`SOURCE#{issuer}#{source_id}`) are written by `DynamoInvoiceRepository.put`, next to the
invoice they point to.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key

from ..fetch.decisions import ParkedSource, SyncDecision
from ..ports import ConflictError
from .aws import TableAdapter, query_all
from .dynamo_batch import batch_get, batch_put, query_items
from .dynamo_conditional import write_if


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


_PARKED_KEYS = ("GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK")
_AWAITING_NOTICE = "WAITING#parked_notice"
_NOTICE_KEYS = ("GSI3PK", "GSI3SK", "notice_claimed_until")


class DynamoDecisionStore(TableAdapter):
    @staticmethod
    def _key(integration_id: str, source_id: str) -> dict[str, str]:
        return {"PK": f"INTEGRATION#{integration_id}", "SK": f"DECISION#{source_id}"}

    def get(self, integration_id: str, source_id: str) -> SyncDecision | None:
        item = self._table.get_item(Key=self._key(integration_id, source_id), ConsistentRead=True).get("Item")
        return self._decision(item, "") if item else None

    def get_many(self, integration_id: str, source_ids: Collection[str]) -> dict[str, SyncDecision]:
        """The latest decisions on `source_ids` that exist, by source id: a page's in BatchGetItems."""
        keys = [self._key(integration_id, source_id) for source_id in source_ids]
        items = batch_get(self._table_name, keys)
        return {item["source_id"]: self._decision(item, "") for item in items}

    def record(self, integration_id: str, decision: SyncDecision, *, first_sync: bool) -> None:
        values, removed = self._values(integration_id, decision, first_sync=first_sync)
        names = {f"#{name}": name for name in [*values, *removed]}
        update = "SET " + ", ".join(f"#{name} = :{name}" for name in values)
        if removed:
            update += " REMOVE " + ", ".join(f"#{name}" for name in removed)
        self._table.update_item(
            Key=self._key(integration_id, decision.source_id),
            UpdateExpression=update,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={f":{name}": value for name, value in values.items()},
        )

    def record_new(self, integration_id: str, decisions: Sequence[tuple[SyncDecision, bool]]) -> None:
        """Whole items, 25 to a BatchWriteItem: the item `record` would leave on a key that held none (what
        it removes is not there, and there is no earlier `first_*` to keep)."""
        items = []
        for decision, first_sync in decisions:
            values, _removed = self._values(integration_id, decision, first_sync=first_sync)
            items.append({**self._key(integration_id, decision.source_id), **values})
        if items:
            batch_put(self._table_name, items)

    def _values(
        self, integration_id: str, decision: SyncDecision, *, first_sync: bool
    ) -> tuple[dict[str, Any], list[str]]:
        """What a decision sets on its item, and the attributes of an earlier decision it removes."""
        values: dict[str, Any] = {
            "source_id": decision.source_id,
            "selected": decision.selected,
            "reason": decision.reason,
            "detail": decision.detail,
            "source_modified_utc": _iso(decision.source_modified_utc),
            "invoice_number": decision.invoice_number,
            "customer_name": decision.customer_name,
            "amount": decision.amount,
            "currency": decision.currency,
            "invoice_id": decision.invoice_id,
            "decided_at": _iso(decision.decided_at),
        }
        if first_sync:
            values.update({f"first_{name}": value for name, value in values.items() if name != "source_id"})
        values.update(
            integration_id=integration_id,
            issuer_id=decision.issuer_id,
            parked=decision.parked,
            notified=decision.notified,
            fingerprint=decision.fingerprint,
        )
        removed: list[str] = []
        if decision.parked:
            values.update(self._parked_keys(integration_id, decision))
        else:
            removed = list(_PARKED_KEYS)
        if decision.parked and not decision.notified:
            values.update(GSI3PK=_AWAITING_NOTICE, GSI3SK=values["GSI2SK"])
            removed.append("notice_claimed_until")  # a fresh version's notice is no one's yet
        else:
            removed += _NOTICE_KEYS
        return values, removed

    @staticmethod
    def _parked_keys(integration_id: str, decision: SyncDecision) -> dict[str, str]:
        if not decision.issuer_id:
            raise ValueError("a parked decision needs its issuer")
        where = f"{integration_id}#{decision.source_id}"
        return {
            "GSI1PK": f"ISSUER#{decision.issuer_id}",
            "GSI1SK": f"PARKED#{where}",
            "GSI2PK": "PARKED",
            "GSI2SK": f"{_iso(decision.decided_at) or ''}#{where}",
        }

    def parked(self, issuer_id: str | None = None) -> list[ParkedSource]:
        if issuer_id:
            condition = Key("GSI1PK").eq(f"ISSUER#{issuer_id}") & Key("GSI1SK").begins_with("PARKED#")
            kwargs: dict[str, Any] = {"IndexName": "GSI1", "KeyConditionExpression": condition}
        else:
            kwargs = {"IndexName": "GSI2", "KeyConditionExpression": Key("GSI2PK").eq("PARKED")}
        # The index holds keys only; a decision taken out of it (decided again, not parked) since it answered
        # is left out: `current` compares the stored index key with the entry's.
        found = query_items(self._table_name, kwargs, current=(f"{kwargs['IndexName']}PK",))
        return [ParkedSource(i["integration_id"], self._decision(i, "")) for i in found]

    def awaiting_notice(self, limit: int) -> list[ParkedSource]:
        found = self._table.query(
            IndexName="GSI3", KeyConditionExpression=Key("GSI3PK").eq(_AWAITING_NOTICE), Limit=limit
        ).get("Items", [])
        return [ParkedSource(i["integration_id"], self._decision(i, "")) for i in found]

    def claim_notice(self, parked: ParkedSource, *, now: datetime, until: datetime) -> bool:
        try:
            self._settle(
                parked,
                "SET #claim = :until",
                "#waiting = :waiting AND (attribute_not_exists(#claim) OR #claim < :now)",
                {":until": until.isoformat(), ":now": now.isoformat(), ":waiting": _AWAITING_NOTICE},
                {"#waiting": "GSI3PK", "#claim": "notice_claimed_until"},
            )
        except ConflictError:
            return False
        return True

    def settle_notice(self, parked: ParkedSource, *, sent: bool) -> None:
        names = {f"#{name}": name for name in _NOTICE_KEYS}
        values: dict[str, Any]
        if sent:
            update, values = "SET #notified = :true REMOVE " + ", ".join(names), {":true": True}
            names["#notified"] = "notified"
        else:
            update, values = "REMOVE #notice_claimed_until ADD #attempts :one", {":one": 1}
            names = {"#notice_claimed_until": "notice_claimed_until", "#attempts": "notice_attempts"}
        # A conflict: a later decision replaced this version (and its claim); the notice was for the one before.
        with suppress(ConflictError):
            self._settle(parked, update, "attribute_exists(#notice_claimed_until)", values, names)

    def _settle(
        self, parked: ParkedSource, update: str, condition: str, values: dict[str, Any], names: dict[str, str]
    ) -> None:
        """A write of one version's notice state, only while the item still holds that very decision."""
        write_if(
            {
                "Update": {
                    "TableName": self._table_name,
                    "Key": self._key(parked.integration_id, parked.decision.source_id),
                    "UpdateExpression": update,
                    "ConditionExpression": f"#decided_at = :decided_at AND {condition}",
                    "ExpressionAttributeNames": {**names, "#decided_at": "decided_at"},
                    "ExpressionAttributeValues": {**values, ":decided_at": _iso(parked.decision.decided_at)},
                }
            },
            conflict="parked notice",
        )

    def _query(self, integration_id: str) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("PK").eq(f"INTEGRATION#{integration_id}")
            & Key("SK").begins_with("DECISION#"),
            "ConsistentRead": True,
        }
        return list(query_all(self._table, **kwargs))

    def reconciliation(self, integration_id: str) -> list[SyncDecision]:
        return [self._decision(i, "first_") for i in self._query(integration_id) if "first_reason" in i]

    def latest(self, integration_id: str) -> list[SyncDecision]:
        return [self._decision(i, "") for i in self._query(integration_id)]

    @staticmethod
    def _decision(item: dict[str, Any], prefix: str) -> SyncDecision:
        number = item.get(f"{prefix}invoice_number")
        return SyncDecision(
            source_id=item["source_id"],
            selected=bool(item[f"{prefix}selected"]),
            reason=item[f"{prefix}reason"],
            detail=item.get(f"{prefix}detail") or "",
            source_modified_utc=_dt(item.get(f"{prefix}source_modified_utc")),
            invoice_number=int(number) if number is not None else None,
            customer_name=item.get(f"{prefix}customer_name"),
            amount=item.get(f"{prefix}amount"),
            currency=item.get(f"{prefix}currency"),
            invoice_id=item.get(f"{prefix}invoice_id"),
            decided_at=_dt(item.get(f"{prefix}decided_at")),
            # Whether it is parked now is the latest decision's business (never the first sync's copy).
            issuer_id=item.get("issuer_id"),
            parked=bool(item.get("parked")) and not prefix,
            notified=bool(item.get("notified")) and not prefix,
            fingerprint=item.get("fingerprint") if not prefix else None,
        )
