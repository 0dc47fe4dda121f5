"""One request budget shared by every worker: at most N requests a minute per Spiris endpoint.

Spiris counts "per client and endpoint/URL" (600 a minute; reference/spiris-api.md §2.1). Workers
take a slot from a shared per-(endpoint, minute) counter before each request; when the current
minute is spent they reserve a slot in the next one and sleep until it starts. Clock and sleep are
injected so tests run on a fake clock.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from ..observability import logger

# Path segments that are ids (uuid, numbers): /v2/customers/{id} is one endpoint for the budget,
# which is the conservative reading of "endpoint/URL".
_ID_SEGMENT = re.compile(r"^(?:[0-9a-fA-F-]{32,36}|\d+)$")


def endpoint_key(path: str) -> str:
    """`/v2/customers/3f1c…?x=1` → `/v2/customers/{id}`."""
    path = path.split("?", 1)[0].rstrip("/") or "/"
    return "/".join("{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/"))


def minute_bucket(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y%m%d%H%M")


class MinuteCounter(Protocol):
    """A counter per (endpoint, minute) shared by all workers."""

    def try_take(self, endpoint: str, minute: str, limit: int, expires_at: int) -> bool:
        """Add one if the count is below `limit`; False (and no change) when it is full."""
        ...


class MemoryMinuteCounter:
    """A process-local counter (one worker, benchmarks); workers that share a budget use DynamoDB."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def try_take(self, endpoint: str, minute: str, limit: int, expires_at: int) -> bool:
        with self._lock:
            count = self.counts.get((endpoint, minute), 0)
            if count >= limit:
                return False
            self.counts[(endpoint, minute)] = count + 1
            return True


class BudgetExhausted(Exception):
    """No slot could be had within `max_wait_seconds`."""


class RequestBudget:
    def __init__(
        self,
        counter: MinuteCounter,
        limit_per_minute: int = 600,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_wait_seconds: float = 300.0,
    ):
        if limit_per_minute < 1:
            raise ValueError("limit_per_minute must be at least 1")
        self._counter = counter
        self.limit = limit_per_minute
        self._clock = clock
        self._sleep = sleep
        self._max_wait = max_wait_seconds

    def acquire(self, path_or_endpoint: str) -> str:
        """Block until a request to this endpoint may be made; returns the minute bucket it counts in."""
        endpoint = endpoint_key(path_or_endpoint)
        started = self._clock()
        while True:
            now = self._clock()
            minute_start = int(now // 60) * 60
            current = minute_bucket(minute_start)
            if self._counter.try_take(endpoint, current, self.limit, self._expires(minute_start)):
                return current
            next_start = minute_start + 60
            # Reserve in the next minute now so waiting workers queue up fairly, then wait for it.
            reserved = self._counter.try_take(
                endpoint, minute_bucket(next_start), self.limit, self._expires(next_start)
            )
            if now - started > self._max_wait:
                raise BudgetExhausted(f"no request slot for {endpoint} within {self._max_wait:.0f} s")
            logger.debug("request budget spent, waiting", extra={"endpoint": endpoint, "minute": current})
            self._sleep(max(next_start - now, 0.0) + 0.001)
            if reserved and self._clock() < next_start + 60:
                return minute_bucket(next_start)
            # Reserved but slept past the reserved minute (a very slow host): the slot is wasted; try again.

    @staticmethod
    def _expires(minute_start: int) -> int:
        return minute_start + 600  # TTL only cleans up; ten minutes is plenty

    def before_request(self, path: str) -> None:
        """The hook `HttpSpirisApi(before_request=...)` calls before each request."""
        self.acquire(path)
