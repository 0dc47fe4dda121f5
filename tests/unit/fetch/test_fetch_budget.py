"""The request budget on a fake clock: never more than the limit in a minute, waits instead of failing."""

from __future__ import annotations

from collections import Counter

import pytest
from fetch_doubles import FakeClock, MemoryMinuteCounter
from invoice_bridge.fetch.budget import BudgetExhausted, RequestBudget, endpoint_key, minute_bucket

START = 1_795_000_000.0 - (1_795_000_000.0 % 60) + 30  # half way through a minute


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/v2/customerinvoices?$page=2&$pagesize=100", "/v2/customerinvoices"),
        ("/v2/customers/a4d2e1f0-2222-4b8b-9c1d-112233445566", "/v2/customers/{id}"),
        ("/v2/customerinvoices/3f1c2b7e-6a2d-4c51-9a8e-0d2f8c4b1a10/pdf", "/v2/customerinvoices/{id}/pdf"),
        ("/v2/companysettings/", "/v2/companysettings"),
    ],
)
def test_endpoint_key_groups_urls_of_one_endpoint(path: str, key: str) -> None:
    assert endpoint_key(path) == key


def test_takes_slots_in_the_current_minute_then_waits_for_the_next() -> None:
    clock = FakeClock(START)
    budget = RequestBudget(MemoryMinuteCounter(), 5, clock=clock.time, sleep=clock.sleep)

    minutes = [budget.acquire("/v2/customerinvoices") for _ in range(12)]

    assert Counter(minutes) == {
        minute_bucket(START): 5,
        minute_bucket(START + 60): 5,
        minute_bucket(START + 120): 2,
    }
    # It slept to the start of each next minute, not a fixed interval.
    assert clock.now == pytest.approx(START - 30 + 120, abs=0.01)


def test_endpoints_have_separate_budgets() -> None:
    clock = FakeClock(START)
    budget = RequestBudget(MemoryMinuteCounter(), 2, clock=clock.time, sleep=clock.sleep)

    for _ in range(2):
        budget.acquire("/v2/customerinvoices")
        budget.acquire("/v2/customers/a4d2e1f0-2222-4b8b-9c1d-112233445566")

    assert clock.slept == 0


def test_a_budget_that_never_frees_gives_up() -> None:
    class Full:
        def try_take(self, endpoint: str, minute: str, limit: int, expires_at: int) -> bool:
            return False

    clock = FakeClock(START)
    budget = RequestBudget(Full(), 600, clock=clock.time, sleep=clock.sleep, max_wait_seconds=120)

    with pytest.raises(BudgetExhausted):
        budget.acquire("/v2/customerinvoices")
