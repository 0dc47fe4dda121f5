"""End to end on the embedded stack: N invoices over several issuers through sync → render → dispatch.

Seeding and every office action go through the HTTP faces only (the Spiris and operator sandboxes'
control routes, the consent pages, the admin API), as sandbox/scenario.py does. The bench observes the
stack from outside: it times every handler invocation (by wrapping the stack's handler lookup, which
leaves the handlers themselves untouched) and counts AWS requests at the boto3 layer (awscalls.py).

Baseline, in the same run: the sync step alone, i.e. the invoices divided by the wall time from the
first sync invocation's start to the last one's end, on the same stack under the same load.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from sandbox import onboarding
from sandbox.onboarding import logo_png, post_json
from sandbox.seed import RowSpec, customer, invoice, org_number
from sandbox.stack import LocalStack

from .awscalls import AwsCallCounter

DISPATCHED = {"sent", "delivered"}
PASSWORD = "Bench2026!"  # the sandbox contact persons' password (sandbox only)


@dataclass
class Invocations:
    """Wall time of every handler invocation, per function (thread-safe)."""

    durations: dict[str, list[float]] = field(default_factory=dict)
    spans: dict[str, list[float]] = field(default_factory=dict)  # [first start, last end] (perf_counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    paused: bool = False  # the bench's own look at the outcome: not the pipeline's work (`outside_the_figures`)

    def record(self, function: str, start: float, end: float) -> None:
        with self._lock:
            if self.paused:
                return
            self.durations.setdefault(function, []).append(end - start)
            span = self.spans.setdefault(function, [start, end])
            span[0], span[1] = min(span[0], start), max(span[1], end)

    def reset(self) -> None:
        with self._lock:
            self.durations.clear()
            self.spans.clear()

    def summary(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {
                fn: {
                    "invocations": len(d),
                    "total_seconds": round(sum(d), 3),
                    "mean_ms": round(sum(d) / len(d) * 1000, 1),
                }
                for fn, d in sorted(self.durations.items())
            }


@contextlib.contextmanager
def outside_the_figures(counter: AwsCallCounter, invocations: Invocations) -> Iterator[None]:
    """The bench's own look at the outcome (invoice statuses after each phase): its handler runs and AWS
    requests are not the pipeline's work, so neither counts in the figures (the office's listing of the
    held invoices before it releases them does)."""
    before = counter.copy()
    invocations.paused = True
    try:
        yield
    finally:
        invocations.paused = False
        counter.restore(before)


def instrument(stack: LocalStack, invocations: Invocations) -> None:
    """Time each handler call. The stack's Handlers look handlers up through `get` on every invoke;
    the wrapper it returns calls the real handler (Handlers.invoke names the function for awscalls)."""
    original_get = stack.handlers.get

    def timed_get(logical_id: str, instance: int = 0) -> Any:
        handler = original_get(logical_id, instance)

        def timed(event: dict[str, Any], context: Any) -> Any:
            start = time.perf_counter()
            try:
                return handler(event, context)
            finally:
                invocations.record(logical_id, start, time.perf_counter())

        return timed

    stack.handlers.get = timed_get  # type: ignore[method-assign]


@dataclass
class Issuer:
    index: int
    org: str
    company_id: str = ""
    issuer_id: str = ""
    integration_id: str = ""
    email: str = ""
    buyers: list[dict[str, Any]] = field(default_factory=list)


class Seeder:
    """Issuers with Spiris companies, buyers on every channel (e-invoice, e-mail, letter) and invoices."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.admin = httpx.Client(
            base_url=stack.api_url, timeout=120, headers={"Authorization": f"Bearer {stack.admin_token}"}
        )
        self.spiris = httpx.Client(base_url=stack.spiris_url or "", timeout=60)
        self.operator = httpx.Client(base_url=stack.operator_url or "", timeout=60)

    def close(self) -> None:
        for client in (self.admin, self.spiris, self.operator):
            client.close()

    def issuer(self, index: int, invoices: int) -> Issuer:
        issuer = Issuer(index, org_number(f"55912{index:03d}0"), email=f"kontakt{index}@bench{index}.se")
        issuer.company_id = onboarding.spiris_company(
            self.spiris, name=f"Benchbolaget {index} AB", org=issuer.org, contact_email=issuer.email, password=PASSWORD
        )
        einvoice_org = org_number(f"55700{index:03d}1")
        buyers = [
            customer(f"E-fakturakund {index} AB", einvoice_org, customer_number="10"),
            customer(
                f"E-postkund {index} AB",
                org_number(f"55701{index:03d}2"),
                customer_number="11",
                email=f"ekonomi{index}@epostkund.se",
            ),
            customer(f"Brevkund {index} AB", org_number(f"55702{index:03d}3"), customer_number="12"),
        ]
        for buyer in buyers:
            post_json(self.spiris, f"/_sandbox/companies/{issuer.company_id}/customers", buyer)
        issuer.buyers = buyers
        self.invoices(issuer, invoices, first_number=5000)
        account = onboarding.operator_account(self.operator)
        self.operator.post(
            "/_sandbox/receivers", json={"org_number": einvoice_org, "name": buyers[0]["Name"]}
        ).raise_for_status()
        issuer.issuer_id = onboarding.create_issuer(
            self.admin, name=f"Benchbolaget {index} AB", org=issuer.org,
            notification_email=f"ekonomi@bench{index}.se", account=account, logo=logo_png(), street="Benchvägen 1",
        )
        ordered = onboarding.order_integration(
            self.admin, issuer.issuer_id, contact_name=f"Kontakt {index}", contact_email=issuer.email
        )
        issuer.integration_id = ordered["id"]
        onboarding.consent(
            ordered["consent_url"], contact_email=issuer.email, password=PASSWORD, company_id=issuer.company_id
        )
        status = self.admin.get(f"/integrations/{issuer.integration_id}").json()["status"]
        if status != "active":
            raise RuntimeError(f"bench issuer {index}: consent left the integration {status}")
        return issuer

    def invoices(self, issuer: Issuer, count: int, first_number: int) -> None:
        """`count` booked invoices in the issuer's Spiris company, to each channel's buyer in turn."""
        for n in range(count):
            rows = [
                RowSpec(f"Konsulttimmar vecka {n % 52 + 1}", Decimal(8 + n % 5), Decimal("950.00"), unit="h"),
                RowSpec("Resekostnader", Decimal(1), Decimal("1240.00")),
                RowSpec("Facklitteratur", Decimal(2), Decimal("349.00"), Decimal("0.06")),
            ]
            source = invoice(issuer.buyers[n % len(issuer.buyers)], first_number + n, rows)
            post_json(self.spiris, f"/_sandbox/companies/{issuer.company_id}/customerinvoices", source)

    def statuses(self, issuers: list[Issuer]) -> Counter[str]:
        counts: Counter[str] = Counter()
        for issuer in issuers:
            listed = self.admin.get("/invoices", params={"issuer_id": issuer.issuer_id, "limit": 500})
            listed.raise_for_status()
            counts.update(item["status"] for item in listed.json()["items"])
        return counts

    def release_held(self, issuers: list[Issuer]) -> int:
        released = 0
        for issuer in issuers:
            held = self.admin.get(
                "/invoices", params={"issuer_id": issuer.issuer_id, "status": "held", "limit": 500}
            )
            held.raise_for_status()
            ids = [item["id"] for item in held.json()["items"]]
            for start in range(0, len(ids), 100):  # the office releases a first sync at once, 100 a request
                answer = self.admin.post("/invoices/release", json={"ids": ids[start:start + 100]})
                answer.raise_for_status()
                released += len(answer.json()["released"])
        return released


def cpu_figures(cpu_seconds: float, wall_seconds: float) -> dict[str, float]:
    """The embedded stack's CPU time (every thread of the one process: moto, the sandboxes, the handlers)
    over the pipeline's wall time. A share near 1 means the pipeline waited on nothing but one core:
    render and dispatch ran on the CPU the sync needed, where Lambda gives each instance its own."""
    return {"pipeline_cpu_seconds": round(cpu_seconds, 2),
            "cpu_busy_share": round(cpu_seconds / wall_seconds, 2) if wall_seconds else 0.0}


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run(
    invoices: int = 60, issuers: int = 3, counter: AwsCallCounter | None = None, timeout: float = 300.0,
    later_invoices: int = 0,
) -> dict[str, Any]:
    """Seed, then time phase 1 (sync + render of a first sync, which holds the invoices for review)
    and phase 2 (release → dispatch → delivery tracking). Returns figures, handler timings and counts.

    With `later_invoices`, then a later sync of that many new invoices (no review hold: the everyday
    path), timed from its sync to the last delivery tracked; its figures are under "later_sync", with its
    AWS requests per invoice and cost, and `counter` is left with the first sync's counts only."""
    counter = counter or AwsCallCounter()
    counter.install()
    invocations = Invocations()
    per_issuer = _split(invoices, issuers)
    later: dict[str, Any] | None = None
    # One poller (one function instance) per queue: instances in one process share one CPU, so several
    # at once would stretch each handler's wall time, which the Lambda cost is computed from.
    with quiet_handlers("out/bench-lambda-logs.jsonl"), LocalStack(run_scheduler=False, drainer_concurrency=1) as stack:
        instrument(stack, invocations)
        seeder = Seeder(stack)
        try:
            seeded = [seeder.issuer(i, n) for i, n in enumerate(per_issuer)]
            stack.drain_until_idle(timeout)
            counter.reset()
            invocations.reset()

            start, cpu_start = time.perf_counter(), time.process_time()
            for issuer in seeded:
                seeder.admin.post(f"/integrations/{issuer.integration_id}/sync").raise_for_status()
            stack.drain_until_idle(timeout)
            phase1, cpu1 = time.perf_counter() - start, time.process_time() - cpu_start
            with outside_the_figures(counter, invocations):
                after_phase1 = seeder.statuses(seeded)
            sync_span = invocations.spans.get("SyncIntegrationFunction", [0.0, 0.0])

            released = seeder.release_held(seeded)
            start, cpu_start = time.perf_counter(), time.process_time()
            stack.drain_until_idle(timeout)
            stack.tick("TrackDeliveriesFunction")  # the operator confirms e-invoice deliveries
            stack.drain_until_idle(timeout)
            phase2, cpu2 = time.perf_counter() - start, time.process_time() - cpu_start
            with outside_the_figures(counter, invocations):
                final = seeder.statuses(seeded)
            first_handlers = invocations.summary()
            if later_invoices:
                later = _later_sync(stack, seeder, seeded, later_invoices, counter, invocations, timeout)
        finally:
            seeder.close()
        memory = {fn.logical_id: fn.memory_size for fn in stack.template.functions.values()}
    dispatched = sum(final[s] for s in DISPATCHED)
    pipeline_seconds = phase1 + phase2
    sync_seconds = sync_span[1] - sync_span[0]
    e2e_rate = dispatched / pipeline_seconds if pipeline_seconds else 0.0
    sync_rate = invoices / sync_seconds if sync_seconds else 0.0
    return {
        "invoices": invoices,
        "issuers": issuers,
        "held_after_sync": after_phase1.get("held", 0),
        "released": released,
        "final_statuses": dict(final),
        "dispatched": dispatched,
        "sync_render_seconds": round(phase1, 2),
        "dispatch_seconds": round(phase2, 2),
        "pipeline_seconds": round(pipeline_seconds, 2),
        **cpu_figures(cpu1 + cpu2, pipeline_seconds),
        "invoices_per_second": round(e2e_rate, 3),
        "baseline": "the sync step alone on the same stack: first sync invocation start → last end",
        "sync_only_seconds": round(sync_seconds, 2),
        "sync_only_invoices_per_second": round(sync_rate, 3),
        "ratio": round(e2e_rate / sync_rate, 3) if sync_rate else None,
        "handlers": first_handlers,
        "memory_mb": memory,
        **({"later_sync": {**later, "memory_mb": memory}} if later else {}),
    }


def _later_sync(
    stack: LocalStack, seeder: Seeder, seeded: list[Issuer], count: int, counter: AwsCallCounter,
    invocations: Invocations, timeout: float,
) -> dict[str, Any]:
    """A later sync of `count` new invoices: sync → render → dispatch without a hold, then tracking."""
    before = counter.copy()
    invocations.reset()
    for issuer, n in zip(seeded, _split(count, len(seeded)), strict=True):
        seeder.invoices(issuer, n, first_number=7000)
    start, cpu_start = time.perf_counter(), time.process_time()
    for issuer in seeded:
        seeder.admin.post(f"/integrations/{issuer.integration_id}/sync").raise_for_status()
    stack.drain_until_idle(timeout)
    stack.tick("TrackDeliveriesFunction")
    stack.drain_until_idle(timeout)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    sync_span = invocations.spans.get("SyncIntegrationFunction", [0.0, 0.0])
    counted = counter.since(before)
    counter.restore(before)  # the caller's figures stay the first sync's
    statuses = seeder.statuses(seeded)
    sync_seconds = sync_span[1] - sync_span[0]
    figures = {
        "invoices": count,
        "dispatched_in_total": sum(statuses[s] for s in DISPATCHED),
        "final_statuses": dict(statuses),
        "pipeline_seconds": round(seconds, 2),
        **cpu_figures(cpu, seconds),
        "invoices_per_second": round(count / seconds, 3) if seconds else 0.0,
        "sync_only_seconds": round(sync_seconds, 2),
        "sync_only_invoices_per_second": round(count / sync_seconds, 3) if sync_seconds else 0.0,
        "handlers": invocations.summary(),
    }
    return {**figures, "counter": counted}


@contextlib.contextmanager
def quiet_handlers(path: str) -> Any:
    """The handlers' JSON logs and EMF metrics go to a file (as CloudWatch would keep them), not the table;
    so do the embedded stack's own warnings (a failed batch's traceback is expected under faults)."""
    import logging
    import warnings
    from pathlib import Path

    from invoice_bridge.observability import logger

    Path("out").mkdir(exist_ok=True)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    streams = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
    stack_log = logging.getLogger("sandbox")
    with open(path, "w") as log_file, contextlib.redirect_stdout(log_file):
        previous = [h.setStream(log_file) for h in streams]  # type: ignore[arg-type]
        to_file = logging.StreamHandler(log_file)
        stack_log.addHandler(to_file)
        propagate, stack_log.propagate = stack_log.propagate, False
        try:
            yield
        finally:
            stack_log.removeHandler(to_file)
            stack_log.propagate = propagate
            for handler, stream in zip(streams, previous, strict=True):
                handler.setStream(stream)
