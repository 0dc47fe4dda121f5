"""Integrations and the consent records in the single table (docs/dynamodb.md).

- integration: PK `INTEGRATION#{id}` SK `INTEGRATION`; GSI1 per issuer; GSI2 `INTEGRATIONS` stalest first.
- invitation: PK `INVITATION#{sha256(token)}`: only the hash of the link's token is ever stored.
- oauth state: PK `STATE#{sha256(state)}`: single use (conditional `used_at`), expiry re-checked in code.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from ..models.integration import Integration
from ..ports import ConflictError, InvitationRecord, NotFound, OAuthStateRecord, StateUnusable
from .aws import TableAdapter
from .dynamo_batch import query_items
from .dynamo_conditional import busy_for_now, write_if
from .dynamo_issuers import strip_keys


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _from_epoch(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def integration_key(integration_id: str) -> dict[str, str]:
    return {"PK": f"INTEGRATION#{integration_id}", "SK": "INTEGRATION"}


def integration_of(item: dict[str, Any]) -> Integration:
    return Integration.model_validate(strip_keys(item))


class DynamoIntegrations(TableAdapter):
    def get(self, integration_id: str) -> Integration:
        item = self._table.get_item(Key=integration_key(integration_id), ConsistentRead=True).get("Item")
        if not item:
            raise NotFound(f"integration {integration_id} not found")
        return integration_of(item)

    def put(self, integration: Integration) -> None:
        """Write the integration if it is still at the version it was read at (a new one: not stored yet);
        ConflictError otherwise. On success `integration.version` is the stored, bumped version."""
        read_version = integration.version
        item = integration.model_dump(mode="json")
        item.update(
            PK=f"INTEGRATION#{integration.id}",
            SK="INTEGRATION",
            GSI1PK=f"ISSUER#{integration.issuer_id}",
            GSI1SK=f"INTEGRATION#{integration.id}",
            GSI2PK="INTEGRATIONS",
            GSI2SK=f"{item['last_sync_at'] or 0}#{integration.id}",
            entity="integration",
            version=read_version + 1,
        )
        if read_version == 0:  # new (or written before versions existed)
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(version)"}
        else:
            condition = {
                "ConditionExpression": "version = :read",
                "ExpressionAttributeValues": {":read": read_version},
            }
        try:
            self._table.put_item(Item=item, **condition)
        except ClientError as exc:
            if _conditional_failed(exc):
                raise ConflictError(f"integration {integration.id} was changed concurrently") from exc
            raise
        integration.version = read_version + 1

    def list(self, issuer_id: str | None = None) -> list[Integration]:
        if issuer_id:
            condition = Key("GSI1PK").eq(f"ISSUER#{issuer_id}") & Key("GSI1SK").begins_with("INTEGRATION#")
            kwargs: dict[str, Any] = {"IndexName": "GSI1", "KeyConditionExpression": condition}
        else:
            kwargs = {"IndexName": "GSI2", "KeyConditionExpression": Key("GSI2PK").eq("INTEGRATIONS")}
        # The indexes hold keys only: the integrations are read by key, as eventually consistent as the index
        # was. One synced meanwhile is still listed (its GSI2SK moved on; nothing here depends on it).
        return [integration_of(i) for i in query_items(self._table_name, kwargs, consistent=False)]


class DynamoInvitations(TableAdapter):
    def create(self, record: InvitationRecord) -> None:
        # write_if: an SDK retry of this call's applied write is the write, not a clash of hashes.
        write_if({"Put": {
            "TableName": self._table_name,
            "Item": {
                "PK": f"INVITATION#{record.token_hash}",
                "SK": "INVITATION",
                "entity": "invitation",
                "integration_id": record.integration_id,
                "issuer_id": record.issuer_id,
                "created_at": _epoch(record.created_at),
                "expires_at": _epoch(record.expires_at),
            },
            "ConditionExpression": "attribute_not_exists(PK)",
        }}, conflict="invitation exists already")

    def get(self, token_hash: str) -> InvitationRecord | None:
        item = self._table.get_item(
            Key={"PK": f"INVITATION#{token_hash}", "SK": "INVITATION"}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        return InvitationRecord(
            token_hash=token_hash,
            integration_id=item["integration_id"],
            issuer_id=item["issuer_id"],
            created_at=_from_epoch(item["created_at"]),
            expires_at=_from_epoch(item["expires_at"]),
            used_at=_from_epoch(item["used_at"]) if item.get("used_at") is not None else None,
        )

    def consume(self, token_hash: str, at: datetime) -> None:
        """Mark used once; a second consume raises ConflictError."""
        # write_if: an SDK retry of this call's applied write is the use it made, not a second grant's.
        write_if({"Update": {
            "TableName": self._table_name,
            "Key": {"PK": f"INVITATION#{token_hash}", "SK": "INVITATION"},
            "UpdateExpression": "SET used_at = :at",
            "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(used_at)",
            "ExpressionAttributeValues": {":at": _epoch(at)},
        }}, conflict="invitation already used")


class DynamoOAuthStates(TableAdapter):
    def create(self, record: OAuthStateRecord) -> None:
        # write_if: an SDK retry of this call's applied write is the write, not a clash of hashes.
        write_if({"Put": {
            "TableName": self._table_name,
            "Item": {
                "PK": f"STATE#{record.state_hash}",
                "SK": "STATE",
                "entity": "oauth_state",
                "integration_id": record.integration_id,
                "invitation_hash": record.invitation_hash,
                "verifier_ciphertext": record.verifier_ciphertext,
                "expires_at": _epoch(record.expires_at),
            },
            "ConditionExpression": "attribute_not_exists(PK)",
        }}, conflict="oauth state exists already")

    def take(self, state_hash: str, now: datetime) -> OAuthStateRecord:
        """Use the state exactly once, before anything else happens; raises StateUnusable."""
        key = {"PK": f"STATE#{state_hash}", "SK": "STATE"}
        try:
            item = self._table.update_item(
                Key=key,
                UpdateExpression="SET used_at = :now",
                ConditionExpression="attribute_exists(PK) AND attribute_not_exists(used_at) AND expires_at > :now",
                ExpressionAttributeValues={":now": _epoch(now)},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            busy_for_now(exc, "the write of an OAuth state")  # nothing used: the same callback can take it in a moment
            if not _conditional_failed(exc):
                raise
            existing = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
            if not existing:
                raise StateUnusable("unknown") from exc
            reason = "used" if existing.get("used_at") is not None else "expired"
            raise StateUnusable(reason, existing.get("integration_id")) from exc
        return OAuthStateRecord(
            state_hash=state_hash,
            integration_id=item["integration_id"],
            invitation_hash=item["invitation_hash"],
            verifier_ciphertext=bytes(item["verifier_ciphertext"]),
            expires_at=_from_epoch(item["expires_at"]),
            used_at=_from_epoch(item["used_at"]),
        )
