"""The record of every selection decision: one per (integration, source invoice), latest wins, and the
first sync's decision kept apart for the reconciliation list."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class SyncDecision:
    source_id: str
    selected: bool
    reason: str
    detail: str = ""
    source_modified_utc: datetime | None = None
    invoice_number: int | None = None
    customer_name: str | None = None
    amount: Decimal | None = None  # total in the invoice currency
    currency: str | None = None
    invoice_id: str | None = None  # ours, when the source invoice was imported
    decided_at: datetime | None = None
    issuer_id: str | None = None
    # Parked: the source invoice could not be read or mapped (reason `unreadable`, `unmappable` or
    # `too_large`, the detail says why). Listed in GET /failures until a later version can be.
    parked: bool = False
    notified: bool = False  # the issuer was told of this parked version
    # sha256 of the raw JSON: tells versions apart when ModifiedUtc itself cannot be read.
    fingerprint: str | None = None


@dataclass(frozen=True)
class ParkedSource:
    integration_id: str
    decision: SyncDecision


class DecisionStore(Protocol):
    def get(self, integration_id: str, source_id: str) -> SyncDecision | None: ...

    def get_many(self, integration_id: str, source_ids: Collection[str]) -> dict[str, SyncDecision]:
        """The latest decisions on `source_ids`, by source id (those never decided are left out): a sync
        reads a page's at once, consistently."""
        ...

    def record(self, integration_id: str, decision: SyncDecision, *, first_sync: bool) -> None:
        """Store the latest decision; with `first_sync` it also becomes the reconciliation entry."""
        ...

    def reconciliation(self, integration_id: str) -> list[SyncDecision]:
        """The first sync's decisions (every source invoice it saw)."""
        ...

    def latest(self, integration_id: str) -> list[SyncDecision]:
        """The latest decision for every source invoice ever seen."""
        ...

    def parked(self, issuer_id: str | None = None) -> list[ParkedSource]:
        """Every source invoice whose latest version is parked (of one issuer, or of all)."""
        ...
