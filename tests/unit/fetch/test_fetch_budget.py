"""The request budget on a fake clock: never more than the limit in a minute, waits instead of failing."""

from __future__ import annotations

from collections import Counter

import pytest
from fetch_doubles import FakeClock, MemoryMinuteCounter
from invoice_bridge.fetch.budget import BudgetExhausted, RequestBudget, endpoint_key, window_bucket

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
        window_bucket(START): 5,
        window_bucket(START + 60): 5,
        window_bucket(START + 120): 2,
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
        def try_take(self, endpoint: str, minute: str, limit: int, expires_at: int, slots: int = 1) -> bool:
            return False

    clock = FakeClock(START)
    budget = RequestBudget(Full(), 600, clock=clock.time, sleep=clock.sleep, max_wait_seconds=120)

    with pytest.raises(BudgetExhausted):
        budget.acquire("/v2/customerinvoices")


def _most_in_any_60_seconds(times: list[float]) -> int:
    return max(sum(1 for other in times if start <= other < start + 60) for start in times)


def _acquire_times(budget: RequestBudget, clock: FakeClock, count: int) -> list[float]:
    times = []
    for _ in range(count):
        budget.acquire("/v2/customerinvoices")
        times.append(clock.now)
    return times


def test_calendar_minutes_allow_twice_the_limit_across_a_minute_boundary() -> None:
    """Why the shorter window exists: per calendar minute, a burst at 59 s and one at 60 s both pass."""
    clock = FakeClock(START + 29)  # one second before the minute ends
    budget = RequestBudget(MemoryMinuteCounter(), 60, clock=clock.time, sleep=clock.sleep)
    assert _most_in_any_60_seconds(_acquire_times(budget, clock, 120)) == 120


@pytest.mark.parametrize("window", [10, 15, 30])
def test_a_short_window_keeps_any_60_seconds_within_the_limit(window: int) -> None:
    clock = FakeClock(START + 29)
    budget = RequestBudget(MemoryMinuteCounter(), 60, clock=clock.time, sleep=clock.sleep, window_seconds=window)
    assert budget.limit == 60 // (60 // window + 1)
    times = _acquire_times(budget, clock, 400)
    assert _most_in_any_60_seconds(times) <= 60
    # ...and still uses most of it: at least limit × 60/window each minute over the run.
    assert len(times) / ((times[-1] - times[0]) / 60) >= budget.limit * (60 // window) * 0.9


def test_window_must_divide_the_minute_and_leave_a_request() -> None:
    with pytest.raises(ValueError):
        RequestBudget(MemoryMinuteCounter(), 600, window_seconds=7)
    with pytest.raises(ValueError):
        RequestBudget(MemoryMinuteCounter(), 5, window_seconds=1)  # 5 // 61 = 0


class CountedCounter(MemoryMinuteCounter):
    """The memory counter, with the writes a shared counter would take (one per try_take)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def try_take(self, endpoint: str, minute: str, limit: int, expires_at: int, slots: int = 1) -> bool:
        self.writes += 1
        return super().try_take(endpoint, minute, limit, expires_at, slots)


def test_a_worker_that_keeps_asking_takes_its_slots_in_blocks_and_never_uses_one_past_its_window() -> None:
    clock = FakeClock(START)
    counter = CountedCounter()
    budget = RequestBudget(counter, 600, clock=clock.time, sleep=clock.sleep)
    windows = [budget.acquire("/v2/customerinvoices/{id}/pdf") for _ in range(40)]
    assert set(windows) == {window_bucket(START)}
    assert counter.writes == 8  # blocks of 1, 1, 2, 4, 8, 8, 8, 8: 40 slots
    clock.now += 30  # the next window: what is left of the last block is not used in it
    assert budget.acquire("/v2/customerinvoices/{id}/pdf") == window_bucket(START + 30)
    assert counter.counts[("/v2/customerinvoices/{id}/pdf", window_bucket(START + 30))] == 1


def test_blocks_never_take_more_than_the_limit_and_single_slots_fill_the_window() -> None:
    """Two workers share one endpoint's 10 a minute: blocks that no longer fit give way to single
    slots, so the window is used to its limit and never past it."""
    clock = FakeClock(START)
    counter = MemoryMinuteCounter()
    first, second = (RequestBudget(counter, 10, clock=clock.time, sleep=clock.sleep) for _ in range(2))
    granted = [worker.acquire("/v2/customerinvoices") for _ in range(4) for worker in (first, second)]
    granted += [first.acquire("/v2/customerinvoices") for _ in range(2)]
    assert Counter(granted) == {window_bucket(START): 10}
    assert counter.counts[("/v2/customerinvoices", window_bucket(START))] == 10
    assert clock.slept == 0
    assert second.acquire("/v2/customerinvoices") == window_bucket(START + 60)  # the window is full: it waited


def test_a_worker_that_says_what_it_is_about_to_ask_takes_it_in_one_block() -> None:
    """A sync announces a page's 20 source PDFs: one counter write for them, where blocks of 1, 1, 2, 4, 8, 8
    took six; past what it said, blocks grow by the usual rule."""
    clock = FakeClock(START)
    counter = CountedCounter()
    budget = RequestBudget(counter, 600, clock=clock.time, sleep=clock.sleep)
    pdfs = "/v2/customerinvoices/{invoice_id}/pdf"
    budget.expect(pdfs, 20)
    assert {budget.acquire(pdfs) for _ in range(20)} == {window_bucket(START)}
    assert counter.writes == 1 and counter.counts[(pdfs, window_bucket(START))] == 20
    budget.acquire(pdfs)
    assert counter.writes == 2 and counter.counts[(pdfs, window_bucket(START))] == 28  # a block of 8


def test_an_announced_block_that_does_not_fit_gives_way_to_single_slots() -> None:
    clock = FakeClock(START)
    counter = MemoryMinuteCounter()
    budget = RequestBudget(counter, 10, clock=clock.time, sleep=clock.sleep)
    budget.expect("/v2/customers/{customer_id}", 30)
    granted = [budget.acquire("/v2/customers/{customer_id}") for _ in range(11)]
    assert Counter(granted) == {window_bucket(START): 10, window_bucket(START + 60): 1}
    assert counter.counts[("/v2/customers/{customer_id}", window_bucket(START))] == 10
