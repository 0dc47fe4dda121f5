"""The shared request budget on DynamoDB (moto): concurrent workers never exceed the limit in a minute."""

from __future__ import annotations

import threading
from collections import Counter

import boto3
from fetch_doubles import FakeClock
from fetch_support import TABLE
from invoice_bridge.adapters.dynamo_budget import DynamoMinuteCounter, dynamo_request_budget
from invoice_bridge.fetch.budget import MAX_BLOCK, RequestBudget, window_bucket

START = 1_795_000_000.0 - (1_795_000_000.0 % 60) + 45  # 15 seconds before a minute ends
ENDPOINT = "/v2/customerinvoices"


class LinearizedCounter(DynamoMinuteCounter):
    """The real adapter, with each conditional update made atomic as DynamoDB makes it.

    moto does not serialise concurrent requests on one item (its condition check and write can interleave:
    measured 64 grants for a limit of 60), while DynamoDB guarantees an `UpdateItem` with a condition is
    atomic. Holding a lock around each call gives moto that guarantee; our code above it runs concurrently.
    """

    _lock = threading.Lock()

    def try_take(self, endpoint: str, minute: str, limit: int, expires_at: int, slots: int = 1) -> bool:
        with self._lock:
            return super().try_take(endpoint, minute, limit, expires_at, slots)


def test_four_workers_never_exceed_the_limit_within_a_minute(aws) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock(START)
    budget = RequestBudget(LinearizedCounter(TABLE), 60, clock=clock.time, sleep=clock.sleep)
    granted: list[tuple[str, float]] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(50):
            minute = budget.acquire(ENDPOINT)
            with lock:
                granted.append((minute, clock.time()))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    per_minute = Counter(minute for minute, _ in granted)
    assert sum(per_minute.values()) == 200
    assert max(per_minute.values()) <= 60
    assert len(per_minute) >= 4  # 200 requests at 60 a minute need at least four minutes
    # Nobody was let through before the minute their slot counts in had begun.
    assert all(window_bucket(at) >= minute for minute, at in granted)
    # The table counts what was granted, never past the limit, and at most the rest of one block more
    # (slots taken in a block and left when the work ended); every counter expires (TTL).
    counter = DynamoMinuteCounter(TABLE)
    for minute, count in per_minute.items():
        assert count <= counter.count(ENDPOINT, minute) <= min(60, count + MAX_BLOCK - 1)
    items = boto3.resource("dynamodb").Table(TABLE).scan()["Items"]
    assert items and all(i["PK"] == f"BUDGET#{ENDPOINT}" and int(i["expires_at"]) > START for i in items)


def test_a_full_minute_refuses_without_changing_the_count(aws) -> None:  # type: ignore[no-untyped-def]
    counter = DynamoMinuteCounter(TABLE)
    minute = window_bucket(START)

    assert [counter.try_take(ENDPOINT, minute, 2, 0) for _ in range(3)] == [True, True, False]
    assert counter.count(ENDPOINT, minute) == 2
    assert counter.try_take("/v2/customers/{customer_id}", minute, 2, 0) is True  # per endpoint


def test_the_budget_plugs_into_the_spiris_client_hook(aws) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock(START)
    budget = dynamo_request_budget(TABLE, 3, clock=clock.time, sleep=clock.sleep)

    for _ in range(4):
        budget.before_request("/v2/customers/{customer_id}")

    counter = DynamoMinuteCounter(TABLE)
    assert counter.count("/v2/customers/{customer_id}", window_bucket(START)) == 3
    assert counter.count("/v2/customers/{customer_id}", window_bucket(START + 60)) == 1
    assert clock.now >= START - 45 + 60  # the fourth waited for the next minute
