"""Resource facts the authorizer needs beyond the call, read from moto's backends (in this process, for
the embedded stack's moto server and for `mock_aws` alike)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class MotoFacts:
    account: str
    region: str

    def _backend(self, service: str, region: str | None = None) -> Any:
        from moto.backends import get_backend

        return get_backend(service)[self.account][region or self.region]  # type: ignore[call-overload]

    def partition_key(self, table: str, index: str | None) -> str | None:
        try:
            described = self._backend("dynamodb").get_table(table)
        except Exception:  # noqa: BLE001 - no such table: DynamoDB answers ResourceNotFound itself
            return None
        if index is None:
            return str(described.hash_key_attr)
        for candidate in [*described.global_indexes, *described.indexes]:
            if candidate.name == index:
                return next((str(k["AttributeName"]) for k in candidate.schema if k["KeyType"] == "HASH"), None)
        return None

    def _bucket(self, bucket: str) -> Any:
        return self._backend("s3", "aws").buckets.get(bucket)

    def bucket_kms_key(self, bucket: str) -> str | None:
        found = self._bucket(bucket)
        rule = ((found.encryption or {}).get("Rule") or {}) if found is not None else {}
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        if default.get("SSEAlgorithm") not in ("aws:kms", "aws:kms:dsse"):
            return None
        return str(default.get("KMSMasterKeyID") or "alias/aws/s3")

    def object_kms_key(self, bucket: str, key: str) -> str | None:
        found = self._bucket(bucket)
        stored = found.keys.get(key) if found is not None else None
        if stored is None or stored.encryption not in ("aws:kms", "aws:kms:dsse"):
            return None
        return str(stored.kms_key_id or "alias/aws/s3")

    def object_exists(self, bucket: str, key: str) -> bool:
        found = self._bucket(bucket)
        return found is not None and found.keys.get(key) is not None

    def key_arn(self, key_id: str) -> str:
        """A key id, key ARN, alias name or alias ARN → the key's ARN (aliases resolved as KMS does)."""
        if key_id.startswith("arn:") and ":key/" in key_id:
            return key_id
        kms = self._backend("kms")
        alias = key_id.split(":", 5)[-1] if key_id.startswith("arn:") else key_id
        if alias.startswith("alias/"):
            try:
                key_id = str(kms.get_key_id_from_alias(alias) or alias)
            except Exception:  # noqa: BLE001 - unknown alias: KMS answers NotFound itself
                return f"arn:aws:kms:{self.region}:{self.account}:{alias}"
        return f"arn:aws:kms:{self.region}:{self.account}:key/{key_id}"

    def sending_identity(self, address: str) -> str:
        """The SES identity a mail from `address` is sent as: the address if verified, else its domain."""
        identities = self._backend("ses").email_identities
        if address in identities:
            return address
        return address.rsplit("@", 1)[-1].lower()
