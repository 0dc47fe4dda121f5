"""Console sessions in the single table: PK `CONSOLE_SESSION#{sha256 of the cookie}`, SK `SESSION`, TTL
`expires_at` (expiry is checked in code too; TTL only cleans up)."""

from __future__ import annotations

from datetime import datetime

from ..console.sessions import ConsoleSession
from .aws import TableAdapter


def _key(key: str) -> dict[str, str]:
    return {"PK": f"CONSOLE_SESSION#{key}", "SK": "SESSION"}


class DynamoConsoleSessions(TableAdapter):
    def put(self, session: ConsoleSession, expires_at: datetime) -> None:
        self._table.put_item(
            Item={**_key(session.key), "data": session.model_dump_json(), "expires_at": int(expires_at.timestamp())}
        )

    def get(self, key: str) -> ConsoleSession | None:
        item = self._table.get_item(Key=_key(key), ConsistentRead=True).get("Item")
        return ConsoleSession.model_validate_json(str(item["data"])) if item else None

    def delete(self, key: str) -> None:
        self._table.delete_item(Key=_key(key))
