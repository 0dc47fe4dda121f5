"""One request budget shared by every worker: at most N requests a minute per Spiris endpoint.

Spiris counts "per client and endpoint/URL" (600 a minute; reference/spiris-api.md §2.1). Workers
take a slot from a shared per-(endpoint, window) counter before each request; when the current
window is spent they reserve a slot in the next one and sleep until it starts. Clock and sleep are
injected so tests run on a fake clock.

Whether Spiris counts calendar minutes or any 60 seconds is not documented. With `window_seconds=60`
(default) the counter is per calendar minute: the full rate, but a burst at a minute's end and the next
one's start can reach 2× the limit within 60 s (answered by 429 and retried). A shorter window makes
the budget safe for a sliding minute: a 60 s span touches at most 60/w + 1 windows, so each window
takes limit // (60/w + 1) requests (w=10: 85 per 10 s, 510 a minute, never over 600 in any 60 s).

A worker that keeps asking in one window takes its slots in growing blocks (1, 1, 2, 4, up to
MAX_BLOCK, one counter write each) and spends them locally until the window ends: a sync archiving a
page of PDFs, or dispatch's fresh looks of a batch, costs a few counter writes a window, not one per
request. A block is counted when taken, so the limit holds; slots left when the window ends are not
used (at most MAX_BLOCK - 1 per worker and endpoint). When a block no longer fits, single slots fill the
window to its limit.

A worker that knows how many requests it is about to make (the sync, after reading a page of the invoice
list: the customers of the invoices it will import, and their PDFs when the issuer archives them) says so
(`expect`): its next block takes them at once (up to MAX_EXPECTED_BLOCK), one counter write where a
growing series took several (a sync of 3 new invoices with their PDFs: 2 writes, not 6). An estimate too high leaves its rest unused
until the window ends, as any block's.
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
MAX_BLOCK = 8
MAX_EXPECTED_BLOCK = 50  # at most this many slots taken at once on a worker's word (`expect`)


def endpoint_key(path: str) -> str:
    """`/v2/customers/3f1c…?x=1` → `/v2/customers/{id}`."""
    path = path.split("?", 1)[0].rstrip("/") or "/"
    return "/".join("{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/"))


def window_bucket(epoch_seconds: float, window_seconds: int = 60) -> str:
    """The counter key of the window a moment falls in (given its start for windows under a minute): the
    minute (`yyyymmddHHMM`), plus the window's second when windows are shorter."""
    stamp = datetime.fromtimestamp(epoch_seconds, UTC)
    return stamp.strftime("%Y%m%d%H%M" if window_seconds == 60 else "%Y%m%d%H%M%S")


class MinuteCounter(Protocol):
    """A counter per (endpoint, minute) shared by all workers."""

    def try_take(self, endpoint: str, minute: str, limit: int, expires_at: int, slots: int = 1) -> bool:
        """Add `slots` if the count stays within `limit`; False (and no change) when they do not fit."""
        ...


class MemoryMinuteCounter:
    """A process-local counter (one worker, benchmarks); workers that share a budget use DynamoDB."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def try_take(self, endpoint: str, minute: str, limit: int, expires_at: int, slots: int = 1) -> bool:
        with self._lock:
            count = self.counts.get((endpoint, minute), 0)
            if count + slots > limit:
                return False
            self.counts[(endpoint, minute)] = count + slots
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
        window_seconds: int = 60,
    ):
        if limit_per_minute < 1:
            raise ValueError("limit_per_minute must be at least 1")
        if window_seconds < 1 or 60 % window_seconds:
            raise ValueError("window_seconds must divide 60")
        windows = 60 // window_seconds
        self.window_seconds = window_seconds
        self.limit = limit_per_minute if windows == 1 else limit_per_minute // (windows + 1)
        if self.limit < 1:
            raise ValueError(f"{limit_per_minute}/min leaves no request per {window_seconds} s window")
        self._counter = counter
        self._clock = clock
        self._sleep = sleep
        self._max_wait = max_wait_seconds
        # Per endpoint: the window of this worker's block, the slots of it still unused, the slots taken.
        self._blocks: dict[str, tuple[str, int, int]] = {}
        self._expected: dict[str, int] = {}  # per endpoint: the requests this worker said it is about to make
        self._lock = threading.Lock()

    def acquire(self, path_or_endpoint: str) -> str:
        """Block until a request to this endpoint may be made; returns the window bucket it counts in."""
        endpoint = endpoint_key(path_or_endpoint)
        width = self.window_seconds
        started = self._clock()
        while True:
            now = self._clock()
            window_start = int(now // width) * width
            current = window_bucket(window_start, width)
            if self._take_from_block(endpoint, current, window_start):
                return current
            next_start = window_start + width
            # Reserve in the next window now so waiting workers queue up fairly, then wait for it.
            reserved = self._counter.try_take(
                endpoint, window_bucket(next_start, width), self.limit, self._expires(next_start)
            )
            if now - started > self._max_wait:
                raise BudgetExhausted(f"no request slot for {endpoint} within {self._max_wait:.0f} s")
            logger.debug("request budget spent, waiting", extra={"endpoint": endpoint, "window": current})
            self._sleep(max(next_start - now, 0.0) + 0.001)
            if reserved and self._clock() < next_start + width:
                return window_bucket(next_start, width)
            # Reserved but slept past the reserved window (a very slow host): the slot is wasted; try again.

    def _take_from_block(self, endpoint: str, window: str, window_start: int) -> bool:
        """One slot of the current window: from this worker's block, else a new block (growing with what
        it took in the window), else a single slot; False when the window is full."""
        with self._lock:
            block_window, unused, taken = self._blocks.get(endpoint, (window, 0, 0))
            if block_window != window:
                unused, taken = 0, 0
            expected = self._expected.pop(endpoint, 0)
            if expected > 1:
                self._expected[endpoint] = expected - 1
            if unused == 0:
                size = max(min(max(taken, 1), MAX_BLOCK), min(expected, MAX_EXPECTED_BLOCK))
                expires = self._expires(window_start)
                if self._counter.try_take(endpoint, window, self.limit, expires, slots=size):
                    unused, taken = size, taken + size
                elif size > 1 and self._counter.try_take(endpoint, window, self.limit, expires):
                    unused, taken = 1, taken + 1
                else:
                    return False
            self._blocks[endpoint] = (window, unused - 1, taken)
            return True

    def expect(self, path_or_endpoint: str, requests: int) -> None:
        """This worker is about to make about `requests` requests to the endpoint: the block it takes when
        its current one is spent covers the rest of them at once (each request counts one off)."""
        with self._lock:
            self._expected[endpoint_key(path_or_endpoint)] = max(requests, 0)

    @staticmethod
    def _expires(window_start: int) -> int:
        return window_start + 600  # TTL only cleans up; ten minutes is plenty

    def before_request(self, path: str) -> None:
        """The hook `HttpSpirisApi(before_request=...)` calls before each request."""
        self.acquire(path)
