"""Secrets at rest: KMS ciphertext in DynamoDB, never plaintext.

- `KmsTokenStore`: the Spiris token set of an integration (PK `INTEGRATION#{id}`, SK `TOKENS`), encrypted with
  the encryption context {issuer_id, integration_id}: ciphertext moved onto another integration does not
  decrypt. `version` is the optimistic-concurrency counter; a short lease lets one refresher at a time call
  the identity server (single-use refresh tokens, reliability.md §1.3).
- `KmsOperatorCredentials`: an issuer's operator credentials (PK `ISSUER#{id}`, SK `OPERATOR`), context {issuer_id}.
- `KmsCipher`: small values such as the PKCE verifier held by an OAuth state record.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ..models.integration import Integration, TokenSet
from ..ports import ConflictError, DecryptionFailed, StoredTokens
from .aws import TableAdapter, client
from .dynamo_conditional import found_item


class KmsCipher:
    def __init__(self, key_id: str):
        self._key_id = key_id

    def encrypt(self, plaintext: bytes, context: dict[str, str]) -> bytes:
        return client("kms").encrypt(KeyId=self._key_id, Plaintext=plaintext, EncryptionContext=context)[
            "CiphertextBlob"
        ]

    def decrypt(self, ciphertext: bytes, context: dict[str, str]) -> bytes:
        try:
            return client("kms").decrypt(
                CiphertextBlob=ciphertext, EncryptionContext=context, KeyId=self._key_id
            )["Plaintext"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in {"InvalidCiphertextException", "IncorrectKeyException", "AccessDeniedException"}:
                raise DecryptionFailed(code) from exc
            raise


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class _EncryptedItems(TableAdapter):
    """Items of the table whose secret part is encrypted with the token key (under an encryption context)."""

    def __init__(self, table_name: str, key_id: str):
        super().__init__(table_name)
        self._cipher = KmsCipher(key_id)


class KmsTokenStore(_EncryptedItems):

    @staticmethod
    def _key(integration: Integration) -> dict[str, str]:
        return {"PK": f"INTEGRATION#{integration.id}", "SK": "TOKENS"}

    @staticmethod
    def _context(integration: Integration) -> dict[str, str]:
        return {"issuer_id": integration.issuer_id, "integration_id": integration.id}

    def load(self, integration: Integration) -> StoredTokens | None:
        item = self._table.get_item(Key=self._key(integration), ConsistentRead=True).get("Item")
        if not item:
            return None
        plaintext = self._cipher.decrypt(bytes(item["ciphertext"]), self._context(integration))
        return StoredTokens(tokens=TokenSet.model_validate_json(plaintext), version=int(item["version"]))

    def save(
        self,
        integration: Integration,
        tokens: TokenSet,
        expected_version: int | None,
        lease_owner: str | None = None,
    ) -> int:
        """Write the token set; with `expected_version` only if nobody wrote since (ConflictError otherwise).

        `expected_version=None` replaces whatever is there (a new grant). A held lease is released.
        Returns the new version.
        """
        ciphertext = self._cipher.encrypt(tokens.model_dump_json().encode(), self._context(integration))
        now = datetime.now(UTC).isoformat()
        values: dict[str, Any] = {":c": ciphertext, ":one": 1, ":zero": 0, ":now": now}
        kwargs: dict[str, Any] = {}
        if expected_version is not None:
            condition = "version = :expected"
            values[":expected"] = expected_version
            if lease_owner is not None:
                condition += " AND lease_owner = :owner"
                values[":owner"] = lease_owner
            kwargs["ConditionExpression"] = condition
        try:
            result = self._table.update_item(
                Key=self._key(integration),
                UpdateExpression=(
                    "SET ciphertext = :c, version = if_not_exists(version, :zero) + :one, updated_at = :now "
                    "REMOVE lease_owner, lease_until"
                ),
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **kwargs,
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            found = found_item(exc)
            if found.get("ciphertext", {}).get("B") == ciphertext:  # ours (a KMS ciphertext is unique): an
                return int(found["version"]["N"])  # SDK retry after the applied write's answer was lost
            raise ConflictError("token set changed since it was read") from exc
        return int(result["Attributes"]["version"])

    def version_of(self, integration: Integration) -> int | None:
        """The token set's version without decrypting it (cheap polling while another worker refreshes)."""
        item = self._table.get_item(
            Key=self._key(integration), ConsistentRead=True, ProjectionExpression="version"
        ).get("Item")
        return int(item["version"]) if item else None

    def acquire_lease(
        self, integration: Integration, version: int, owner: str, seconds: int, now: float
    ) -> bool:
        """Take the refresh lease for the token set at `version`; False if another holds it or it moved on."""
        try:
            self._table.update_item(
                Key=self._key(integration),
                UpdateExpression="SET lease_owner = :owner, lease_until = :until",
                ConditionExpression="version = :v AND (attribute_not_exists(lease_until) OR lease_until < :now)",
                ExpressionAttributeValues={
                    ":owner": owner,
                    ":until": int((now + seconds) * 1000),
                    ":v": version,
                    ":now": int(now * 1000),
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            # Held by this owner at this version: this call's own lease (an SDK retry after a lost answer).
            found = found_item(exc)
            return bool(found.get("lease_owner", {}).get("S") == owner and found.get("version", {}).get("N") == str(version))
        return True

    def release_lease(self, integration: Integration, owner: str) -> None:
        try:
            self._table.update_item(
                Key=self._key(integration),
                UpdateExpression="REMOVE lease_owner, lease_until",
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeValues={":owner": owner},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def delete(self, integration: Integration) -> None:
        self._table.delete_item(Key=self._key(integration))


class KmsOperatorCredentials(_EncryptedItems):
    """An issuer's operator credentials; written by the admin API, read by dispatch."""

    def save(self, issuer_id: str, provider: str, credentials: dict[str, str]) -> None:
        ciphertext = self._cipher.encrypt(json.dumps(credentials).encode(), {"issuer_id": issuer_id})
        self._table.put_item(
            Item={
                "PK": f"ISSUER#{issuer_id}",
                "SK": "OPERATOR",
                "entity": "operator_credentials",
                "provider": provider,
                "ciphertext": ciphertext,
                "updated_at": datetime.now(UTC).isoformat(),
            }
        )

    def load(self, issuer_id: str) -> tuple[str, dict[str, str]] | None:
        """(provider, credentials) or None."""
        item = self._table.get_item(
            Key={"PK": f"ISSUER#{issuer_id}", "SK": "OPERATOR"}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        plaintext = self._cipher.decrypt(bytes(item["ciphertext"]), {"issuer_id": issuer_id})
        return str(item["provider"]), json.loads(plaintext)

    def delete(self, issuer_id: str) -> None:
        self._table.delete_item(Key={"PK": f"ISSUER#{issuer_id}", "SK": "OPERATOR"})
