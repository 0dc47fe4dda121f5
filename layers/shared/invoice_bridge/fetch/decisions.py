"""The record of every selection decision: one per (integration, source invoice), latest wins, and the
first sync's decision kept apart for the reconciliation list."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..models.issuer import Issuer


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
    # Parked: the source invoice could not be read or mapped, or ours would not agree with it (reason
    # `unreadable`, `unmappable`, `too_large` or `fidelity`, the detail says why). Listed in GET /failures
    # until a later version can be.
    parked: bool = False
    # The issuer was told of this parked version. Until then the decision waits on a list of its own,
    # which the sweeper works through (`PendingNotices`, fetch/parked_notices.py).
    notified: bool = False
    # sha256 of the raw JSON: tells versions apart when ModifiedUtc itself cannot be read.
    fingerprint: str | None = None


@dataclass(frozen=True)
class ParkedSource:
    integration_id: str
    decision: SyncDecision


NotifyParked = Callable[["Issuer", SyncDecision], None]  # tells the issuer of one parked version


class DecisionStore(Protocol):
    def get(self, integration_id: str, source_id: str) -> SyncDecision | None: ...

    def get_many(self, integration_id: str, source_ids: Collection[str]) -> dict[str, SyncDecision]:
        """The latest decisions on `source_ids`, by source id (those never decided are left out): a sync
        reads a page's at once, consistently."""
        ...

    def record(self, integration_id: str, decision: SyncDecision, *, first_sync: bool) -> None:
        """Store the latest decision; with `first_sync` it also becomes the reconciliation entry."""
        ...

    def record_new(self, integration_id: str, decisions: Sequence[tuple[SyncDecision, bool]]) -> None:
        """`record` of many (decision, first_sync) at once, each of a source invoice with no decision stored
        when its page was read: a few requests for a page's (25 a request), not one each."""
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


class PendingNotices(Protocol):
    """The parked decisions whose notice has not gone out (`parked and not notified`), apart from the
    others, so they are worked through without waiting for a sync to read their version again."""

    def awaiting_notice(self, limit: int) -> list[ParkedSource]:
        """Up to `limit` of them, the earliest decided first."""
        ...

    def claim_notice(self, parked: ParkedSource, *, now: datetime, until: datetime) -> bool:
        """Take this version's notice until `until`, if it still waits and no one else holds it (a claim
        held past its `until` is free again): False when it is not ours to send."""
        ...

    def settle_notice(self, parked: ParkedSource, *, sent: bool) -> None:
        """After a claimed notice: sent, the decision is `notified` and leaves the list; not sent, the
        claim is let go and it stays. Nothing when a later decision has replaced this version."""
        ...
