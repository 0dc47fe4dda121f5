"""Sync decisions in the single table: `PK=INTEGRATION#{id}`, `SK=DECISION#{source_id}`.

The latest decision is in `selected`/`reason`/...; the first sync's one is copied to `first_*` and
marks the item as part of the reconciliation list. A parked decision (a source invoice that cannot be
read or mapped) is also in the indexes: GSI1 `ISSUER#{issuer_id}` / `PARKED#{integration}#{source}` and
GSI2 `PARKED` / `{decided_at}#{integration}#{source}`; a later decision that is not parked takes it out.
Source links (`SOURCE#{issuer}#{source_id}`) are written by `DynamoInvoiceRepository.put`, next to the
invoice they point to.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key

from ..fetch.decisions import ParkedSource, SyncDecision
from .aws import TableAdapter, query_all
from .dynamo_batch import batch_get


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


_PARKED_KEYS = ("GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK")


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
        return [ParkedSource(i["integration_id"], self._decision(i, "")) for i in query_all(self._table, **kwargs)]

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
