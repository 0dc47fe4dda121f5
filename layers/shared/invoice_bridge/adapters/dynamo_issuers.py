"""Issuers in the single table: PK `ISSUER#{id}`, SK `ISSUER`; GSI1 `ISSUERS` / `{created_at}#{id}` lists them."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from ..models.issuer import Issuer
from ..ports import NotFound
from .aws import TableAdapter
from .dynamo_batch import query_items

_KEY_ATTRIBUTES = ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "entity")


def strip_keys(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES}


def issuer_key(issuer_id: str) -> dict[str, str]:
    return {"PK": f"ISSUER#{issuer_id}", "SK": "ISSUER"}


def issuer_of(item: dict[str, Any]) -> Issuer:
    return Issuer.model_validate(strip_keys(item))


class DynamoIssuers(TableAdapter):
    def get(self, issuer_id: str) -> Issuer:
        item = self._table.get_item(Key=issuer_key(issuer_id), ConsistentRead=True).get("Item")
        if not item:
            raise NotFound(f"issuer {issuer_id} not found")
        return issuer_of(item)

    def put(self, issuer: Issuer) -> None:
        item = issuer.model_dump(mode="json")
        item.update(
            PK=f"ISSUER#{issuer.id}",
            SK="ISSUER",
            GSI1PK="ISSUERS",
            GSI1SK=f"{item['created_at']}#{issuer.id}",
            entity="issuer",
        )
        self._table.put_item(Item=item)

    def list(self) -> list[Issuer]:
        # GSI1 holds keys only: the issuers are read by key, as eventually consistent as the index was.
        query = {"IndexName": "GSI1", "KeyConditionExpression": Key("GSI1PK").eq("ISSUERS")}
        return [issuer_of(i) for i in query_items(self._table_name, query, consistent=False)]
