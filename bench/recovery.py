"""Recovery after an operator fault window (issue 12): how long after the operator is healthy again until
every invoice is terminal (delivered, sent, failed or cancelled). Goal: 7 minutes on the embedded stack.

On a fresh embedded stack, invoices over several issuers (e-invoice, e-mail and letter buyers) are synced
and rendered with a healthy operator. Then the operator sandbox fails 30 % of its calls
(`POST /_sandbox/faults`: 15 % answered 5xx, 15 % accepted but answered after the client's timeout) while
the held invoices are released and every one of them has its first dispatch attempt. The window ends
there (faults back to 0) and the clock starts: the figure is the time until the last invoice is terminal,
however the pipeline brings failed attempts back (the queue's visibility timeout, a backoff, a sweeper).
Scheduled functions fire at their template rates meanwhile, as in AWS. A cap ends the run if the
pipeline does not get there; the report then says how many invoices were still open.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sandbox.stack import LocalStack

from .e2e import Seeder, quiet_handlers

TERMINAL = {"delivered", "sent", "failed", "cancelled"}
GOAL_SECONDS = 7 * 60
FAULT_WINDOW = {"rate_5xx": 0.15, "accept_then_timeout_rate": 0.15, "hang_seconds": 11.0}  # > the client's 10 s
HEALTHY = {"rate_5xx": 0.0, "accept_then_timeout_rate": 0.0}
RATE = re.compile(r"rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
POLL_SECONDS = 5.0


@dataclass
class DispatchAttempts:
    """Records handed to the dispatch function, and how many of its invocations are running."""

    records: int = 0
    running: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, stack: LocalStack) -> None:
        original_get = stack.handlers.get

        def counted_get(logical_id: str, instance: int = 0) -> Any:
            handler = original_get(logical_id, instance)
            if logical_id != "DispatchFunction":
                return handler

            def counted(event: dict[str, Any], context: Any) -> Any:
                with self._lock:
                    self.records += len(event.get("Records", []))
                    self.running += 1
                try:
                    return handler(event, context)
                finally:
                    with self._lock:
                        self.running -= 1

            return counted

        stack.handlers.get = counted_get  # type: ignore[method-assign]

    def first_pass_done(self, released: int) -> bool:
        with self._lock:
            return self.records >= released and self.running == 0


def schedule_periods(stack: LocalStack) -> dict[str, float]:
    """Seconds between runs of every scheduled function (rate() expressions; others every 5 minutes)."""
    periods: dict[str, float] = {}
    for function in stack.template.functions.values():
        for schedule in function.schedule_events:
            match = RATE.fullmatch(schedule.expression.strip())
            seconds = float(int(match[1]) * UNIT_SECONDS[match[2].rstrip("s")]) if match else 300.0
            periods[function.logical_id] = min(seconds, periods.get(function.logical_id, seconds))
    return periods


class Clock:
    """Fires each scheduled function when its period has passed since the last run (or the start)."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.periods = schedule_periods(stack)
        started = time.monotonic()
        self.last = {name: started for name in self.periods}

    def advance(self) -> None:
        now = time.monotonic()
        for name, period in self.periods.items():
            if now - self.last[name] >= period:
                self.last[name] = now
                self.stack.tick(name)


def _open(counts: Counter[str]) -> int:
    return sum(n for status, n in counts.items() if status not in TERMINAL)


def run(invoices: int = 30, issuers: int = 2, cap_seconds: float = 20 * 60, seed: int = 15) -> dict[str, Any]:
    per_issuer = [invoices // issuers + (1 if i < invoices % issuers else 0) for i in range(issuers)]
    attempts = DispatchAttempts()
    with quiet_handlers("out/bench-recovery-logs.jsonl"), LocalStack(run_scheduler=False) as stack:
        attempts.watch(stack)
        seeder = Seeder(stack)
        try:
            seeded = [seeder.issuer(i, n) for i, n in enumerate(per_issuer)]
            for issuer in seeded:
                seeder.admin.post(f"/integrations/{issuer.integration_id}/sync").raise_for_status()
            stack.drain_until_idle(600)
            clock = Clock(stack)

            seeder.operator.post("/_sandbox/faults", json={**FAULT_WINDOW, "seed": seed}).raise_for_status()
            window_start = time.monotonic()
            released = seeder.release_held(seeded)
            while not attempts.first_pass_done(released) and time.monotonic() - window_start < cap_seconds:
                clock.advance()
                time.sleep(0.5)
            seeder.operator.post("/_sandbox/faults", json=HEALTHY).raise_for_status()
            window_end = time.monotonic()

            counts = seeder.statuses(seeded)
            while _open(counts) and time.monotonic() - window_end < cap_seconds:
                clock.advance()
                time.sleep(POLL_SECONDS)
                counts = seeder.statuses(seeded)
            recovered = time.monotonic() - window_end
        finally:
            seeder.close()
    still_open = _open(counts)
    return {
        "invoices": invoices,
        "issuers": issuers,
        "released": released,
        "faults": FAULT_WINDOW,
        "window_seconds": round(window_end - window_start, 1),
        "first_attempts": attempts.records,
        "seconds_until_all_terminal": None if still_open else round(recovered, 1),
        "cap_seconds": cap_seconds,
        "still_open_at_cap": still_open,
        "final_statuses": dict(counts),
        "goal_seconds": GOAL_SECONDS,
        "schedule_seconds": dict(sorted(clock.periods.items())),
    }


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.recovery` (`make bench-recovery`): only this part of `make bench`."""
    import argparse
    import json
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m bench.recovery", description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=30)
    parser.add_argument("--issuers", type=int, default=2)
    parser.add_argument("--cap-minutes", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--out", type=Path, default=Path("out/bench-recovery.json"))
    args = parser.parse_args(argv)
    result = run(args.invoices, issuers=args.issuers, cap_seconds=args.cap_minutes * 60, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    seconds = result["seconds_until_all_terminal"]
    return 0 if seconds is not None and seconds <= GOAL_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
