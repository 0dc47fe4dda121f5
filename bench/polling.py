"""Scheduling bench: how long until N integrations are all fresh under the shared request budget.

Runs the real scheduler (`plan_syncs`) and the real budget (`RequestBudget`) on a simulated clock: every
sync spends its requests through the budget, exactly as the sync Lambda does through `before_request`.
`python -m bench.polling [--integrations 10000] [--out out/bench.json]`
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from invoice_bridge.fetch.budget import MemoryMinuteCounter, RequestBudget
from invoice_bridge.fetch.schedule import plan_syncs
from invoice_bridge.models.integration import Integration, IntegrationStatus

LIST = "/v2/customerinvoices"
CUSTOMER = "/v2/customers/{customer_id}"
PDF = "/v2/customerinvoices/{invoice_id}/pdf"


@dataclass
class BenchResult:
    integrations: int
    limit_per_minute: int
    changed_share: float
    seconds_until_all_fresh: float
    minutes_until_all_fresh: float
    requests: dict[str, int]
    budget_share_used: dict[str, float]  # requests / (limit × minute windows elapsed), per endpoint
    max_requests_in_a_minute: dict[str, int]


class _SimClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run(
    integrations: int = 10_000,
    limit_per_minute: int = 600,
    changed_share: float = 0.05,
    request_seconds: float = 0.05,
    seed: int = 7,
) -> BenchResult:
    """Sync every integration once, stalest first. An idle sync costs one list request; a changed one
    (share `changed_share`) also reads one customer and archives one PDF."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
    clock = _SimClock(start.timestamp())
    counter = MemoryMinuteCounter()
    budget = RequestBudget(
        counter, limit_per_minute, clock=clock.time, sleep=clock.sleep, max_wait_seconds=1e9
    )
    population = [
        Integration(
            id=f"int-{n:05d}",
            issuer_id=f"issuer-{n:05d}",
            contact_name="bench",
            contact_email="bench@example.com",
            status=IntegrationStatus.ACTIVE,
            last_sync_at=start - timedelta(minutes=rng.randint(0, 600)),
        )
        for n in range(integrations)
    ]
    requests: Counter[str] = Counter()

    def request(endpoint: str) -> None:
        budget.acquire(endpoint)
        requests[endpoint] += 1
        clock.sleep(request_seconds)

    for _integration_id in plan_syncs(population, start):
        request(LIST)
        if rng.random() < changed_share:
            request(CUSTOMER)
            request(PDF)

    elapsed = clock.now - start.timestamp()
    minutes = max(math.ceil(elapsed / 60), 1)  # minute windows the budget was spent over
    per_minute: dict[str, int] = {}
    for (endpoint, _minute), count in counter.counts.items():
        per_minute[endpoint] = max(per_minute.get(endpoint, 0), count)
    return BenchResult(
        integrations=integrations,
        limit_per_minute=limit_per_minute,
        changed_share=changed_share,
        seconds_until_all_fresh=round(elapsed, 1),
        minutes_until_all_fresh=round(elapsed / 60, 2),
        requests=dict(requests),
        budget_share_used={e: round(n / (limit_per_minute * minutes), 3) for e, n in requests.items()},
        max_requests_in_a_minute=per_minute,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--integrations", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=600)
    parser.add_argument("--changed-share", type=float, default=0.05)
    parser.add_argument("--out", default="out/bench.json")
    args = parser.parse_args(argv)
    result = run(args.integrations, args.limit, args.changed_share)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(asdict(result), indent=2) + "\n")
    print(json.dumps(asdict(result), indent=2))


if __name__ == "__main__":
    main()
