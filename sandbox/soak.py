"""`make soak`: the whole pipeline on the embedded stack under load and every fault at once.

python -m sandbox.soak --issuers 20 --invoices 2000

Faults, all switched on before the first sync:
- Spiris: injected 429s and 5xx (`POST /_sandbox/faults`), access tokens that live seconds
  (`POST /_sandbox/config`), and one issuer's grant revoked at the sandbox after its first sync;
- queues (sandbox/faults.py, the drainer's invoke hook): duplicate and delayed deliveries, handler
  crashes before and after the handler did its work;
- operator: 5xx and 429 (with Retry-After), uploads accepted but answered too late for the client,
  uploads stored but answered 409 on our id, deliveries that fail; a share of the issuers
  (`inexchange_share`) send through the sandbox's InExchange API (client tokens created from the partner
  key), the rest through its Maventa API, all on the strict sandbox (a repeated Maventa `uuid` is refused
  with 409, a repeated InExchange ErpDocumentId too; no `uuid` filter on its list);
- SES (sandbox/moto_server.py SesFaults): throttling, refusals of the address, and sends whose answer is
  lost (a 5xx after SES took the mail, or no answer before the mailer's timeout: outcome unknown);
- SQS (sandbox/sqs_faults.py): single entries of a SendMessageBatch failed on SQS' side (the sync's render
  messages), the others enqueued;
- crashes between every stored result and the message that follows it (sandbox/step_crashes.py: sync →
  render, render → dispatch, dispatch → render for a changed invoice, dispatch → tracking, tracking →
  dispatch for a rerouted one), with the sweeper (SweepStuckFunction) ticking as scheduled;
- Spiris changes on the way (sandbox/soak_changes.py): invoices edited, paid and credited while held,
  queued, rendering and sending; malformed invoices among the good ones;
- a poison message (a malformed body) on each of the three queues.

It fails (exit 1, `problems`) unless: nothing duplicated at the operator or by mail, nothing lost, nothing
stuck; every paid or credited invoice cancelled unless it had already gone out (both counted), every edited
one sent as edited unless it had already gone out, no credit note for an original that did not go out;
every malformed invoice parked and its issuer notified; every crash point hit.

Every queue's visibility timeout is shortened (a local test acceleration, `LocalStack(queue_visibility_
seconds=…)`) so failed records come back in seconds. The run ends when every selected invoice is
terminal (delivered / failed / cancelled; `sent` for e-mail) and the poison messages are in their DLQs,
or at the deadline. It prints the figures and writes them to out/soak.json.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import sys
import time
import warnings
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from . import onboarding, step_crashes
from .drainer import Pump
from .faults import DeliveryFaultRates, DeliveryFaults
from .onboarding import logo_png, post_json
from .seed import RowSpec, customer, invoice, org_number
from .soak_changes import MALFORMED_KINDS, ChangeFigures, SeededInvoice, SourceChanges, seed_malformed
from .stack import LocalStack
from .step_crashes import POINT_NAMES, StepCrash, StepCrashes

OUT = Path("out")
TERMINAL = {"delivered", "failed", "cancelled"}
EMAIL_TERMINAL = TERMINAL | {"sent"}
QUEUES = ("SyncQueue", "RenderQueue", "DispatchQueue")
DEAD_LETTER_QUEUES = {"SyncQueue": "SyncDeadLetterQueue", "RenderQueue": "RenderDeadLetterQueue",
                      "DispatchQueue": "DispatchDeadLetterQueue"}
POISON_BODY = '{"invoice_id": "poison", "version": "not-a-number"'  # truncated JSON, wrong type
# Metric → the template's alarm on it (each alarms when the metric's sum is > 0).
METRIC_ALARMS = {"TransferFailed": "TransferFailedAlarm", "RefreshFailed": "RefreshFailedAlarm",
                 "IntegrationNeedsReconsent": "IntegrationNeedsReconsentAlarm"}
PASSWORD = "Sommar2026!"
# How often the drive loop looks at the invoices, and polls the operator for delivery outcomes (the
# TrackDeliveries schedule): often enough that nothing waits long, seldom enough to leave the CPU to
# the pipeline (every tick reads each `sent` invoice).
ROUND_SECONDS = 1.0
TRACK_SECONDS = 3.0
# The sweeper (SweepStuckFunction) ticks at the template's rate, with its STUCK_AFTER_MINUTES: shortened,
# either would re-send every invoice that waits behind the soak's dispatch backlog, and the duplicates
# would grow the backlog (the sweeper cannot tell a lost message from one still waiting in the queue).
SWEEP_SECONDS = 300.0
MALFORMED_NUMBER_OFFSET = 90_000  # a malformed invoice's number within its issuer's block of 100,000
PARKED_SUBJECT = "kunde inte tas över"  # the issuer's notice of a parked source invoice (alerts.py)


@dataclass
class SoakConfig:
    issuers: int = 20
    invoices: int = 2000
    seed: int = 2026
    timeout_seconds: float = 3600.0
    first_sync_share: float = 0.1  # seeded before consent: the first sync holds these for review
    paid_share: float = 0.1  # paid in Spiris: never selected
    # Several pollers share a queue: a duplicate delivery can meet its original still in progress
    # (its delivery's lease sends it back to the queue until the lease has run out, 120 s and a few: it
    # meets it once). At 5 s a poison message still reaches its DLQ within half a minute.
    queue_visibility_seconds: int | None = 5  # None: the template's (12 minutes and more)
    # Failed records come back after these seconds (RETRY_BACKOFF_SECONDS; 30 s, 2 min, 5 min in AWS). A
    # dispatch that died after its intent holds the delivery's lease for DISPATCH_LEASE_SECONDS (120 s, the
    # function's timeout), as in AWS; a message that meets it comes back once it has run out, whatever the schedule.
    retry_backoff_seconds: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    access_token_lifetime_seconds: int = 8
    spiris_faults: dict[str, float] = field(default_factory=lambda: {"rate_429": 0.03, "rate_5xx": 0.02})
    operator_faults: dict[str, float] = field(default_factory=lambda: {
        "rate_5xx": 0.03, "rate_429": 0.02, "retry_after_seconds": 1, "accept_then_timeout_rate": 0.01,
        "fail_delivery_rate": 0.03, "hang_seconds": 11.0, "delivery_delay": 0.5,  # hang > the client's 10 s
        "accept_then_conflict_rate": 0.02})
    # A repeated client id is refused as strictly as each API can: Maventa 409, InExchange refused.
    operator_settings: dict[str, Any] = field(default_factory=lambda: {
        "duplicate_uuid": "refuse", "duplicate_uuid_status": 409, "inexchange_duplicate_erp_id": "refuse"})
    # SES SendEmail answers (sandbox/moto_server.py SesFaults): throttled, refused (the address), and the
    # answer lost after SES took the mail (a 5xx, or no answer before the mailer's 30 s read timeout).
    ses_faults: dict[str, float] = field(default_factory=lambda: {
        "throttle": 0.03, "reject": 0.005, "accept_then_fail": 0.01, "accept_then_hang": 0.004})
    ses_hang_seconds: float = 31.0
    ses_script: tuple[str, ...] = ()  # answers for the first SendEmail calls once the faults are on, in order
    sqs_batch_entry_failures: float = 0.02  # per SendMessageBatch entry (sandbox/sqs_faults.py)
    # Crashes between a stored result and the message that follows (sandbox/step_crashes.py), per point.
    step_crashes: dict[str, float] = field(default_factory=lambda: dict(zip(POINT_NAMES, (0.03, 0.03, 0.3, 0.02, 0.3),
                                                                            strict=True)))
    change_share: float = 0.12  # selectable invoices edited, paid or credited in Spiris on their way
    malformed_share: float = 0.02  # per issuer (at least one): source invoices that cannot be read or mapped
    # Issuers whose index modulo round(1 / share) is 1 send through InExchange (0: none).
    inexchange_share: float = 0.3
    delivery_faults: DeliveryFaultRates = field(default_factory=lambda: DeliveryFaultRates(
        duplicate=0.03, delay=0.03, delay_seconds=(1, 4), crash_before=0.02, crash_after=0.02))
    revoke_one_issuer: bool = True
    out_path: Path = OUT / "soak.json"


@dataclass
class Buyer:
    key: str
    spiris: dict[str, Any]
    channel: str  # the channel we expect: einvoice / email / print


def buyers() -> list[Buyer]:
    """The same four buyers for every issuer: two reachable by e-invoice, one by e-mail, one by letter."""
    return [
        Buyer("org", customer("Nordisk Detaljhandel AB", org_number("556012345"), customer_number="10"),
              "einvoice"),
        Buyer("gln", customer("Byggbolaget i Norr AB", org_number("556234567"), customer_number="11",
                              gln="7300009012343", city="Umeå"), "einvoice"),
        Buyer("email", customer("Café Solsidan AB", org_number("556345678"), customer_number="12",
                                email="ekonomi@cafesolsidan.se", city="Göteborg"), "email"),
        Buyer("print", customer("Lantgården i Ösmo HB", org_number("969876543"), customer_number="14",
                                city="Ösmo"), "print"),
    ]


@dataclass
class Issuer:
    index: int
    org: str
    company_id: str = ""
    issuer_id: str = ""
    integration_id: str = ""
    email: str = ""
    provider: str = "maventa"
    selected_numbers: set[str] = field(default_factory=set)  # invoice numbers we expect to be selected
    malformed_numbers: set[str] = field(default_factory=set)
    seeded: int = 0
    revoked: bool = False


@dataclass
class SoakReport:
    invoices_seeded: int = 0
    invoices_expected_selected: int = 0
    selected: int = 0
    delivered: int = 0
    sent_by_email: int = 0
    failed: int = 0
    failed_with_notification: int = 0
    failed_without_notification: int = 0
    cancelled: int = 0
    duplicated_at_operator: int = 0  # documents beyond the first per client id (Maventa uuid / ErpDocumentId)
    # Invoices the operator holds more than once under any id (documents that did not fail, per number).
    duplicated_invoices_at_operator: int = 0
    falsely_failed: int = 0  # failed at our end although the operator holds it (not failed there)
    operator_documents: int = 0
    operator_documents_by_provider: dict[str, int] = field(default_factory=dict)
    issuers_by_provider: dict[str, int] = field(default_factory=dict)
    lost: int = 0  # expected to be selected but never imported
    still_pending: int = 0  # imported but not terminal at the end
    pending_invoices: list[dict[str, Any]] = field(default_factory=list)  # the first 20, as listed
    unexpected: int = 0  # imported although the source should have been skipped
    messages_in_dlqs: dict[str, int] = field(default_factory=dict)
    poison_messages_in_dlqs: int = 0
    poison_messages_sent: int = 0
    non_poison_in_dlqs: int = 0  # anything else in a DLQ: a real message given up on
    non_poison_dlq_messages: list[str] = field(default_factory=list)  # the first 10, as queue: body
    alarms_fired: dict[str, int] = field(default_factory=dict)
    alarms_counted_from: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    duplicated_mail: int = 0  # buyer mails beyond the first per invoice number
    sent_by_email_without_mail: int = 0  # `sent` by e-mail, yet SES has no mail for it
    changes: ChangeFigures = field(default_factory=ChangeFigures)
    malformed_seeded: int = 0
    malformed_parked: int = 0
    malformed_notified: int = 0
    crashes_between_steps: dict[str, int] = field(default_factory=dict)
    crash_points_missed: list[str] = field(default_factory=list)
    ses_faults_injected: dict[str, int] = field(default_factory=dict)
    sqs_batch_entries_failed: int = 0
    operator_faults_injected: dict[str, int] = field(default_factory=dict)
    revoked_integration_status: str | None = None
    revoked_issuer_notified: bool = False
    injected: dict[str, int] = field(default_factory=dict)
    spiris_requests: dict[str, int] = field(default_factory=dict)
    status_counts: dict[str, int] = field(default_factory=dict)
    issuers: int = 0
    seconds: float = 0.0
    finished: bool = False
    final_sweeps: int = 0  # sweeps after the last invoice was terminal, for notices still waiting


class Soak:
    def __init__(self, config: SoakConfig, log_stream: Any = None) -> None:
        self.config = config
        self.log_stream = log_stream
        self.faults = DeliveryFaults(config.delivery_faults, seed=config.seed, enabled=False)
        self.crashes = StepCrashes(config.step_crashes, seed=config.seed, enabled=False)
        self.changes: SourceChanges | None = None  # once the Spiris sandbox is up
        self.stack = LocalStack(run_scheduler=False, queue_visibility_seconds=config.queue_visibility_seconds,
                                invoke_hook=self._invoke_hook,
                                environment={"RETRY_BACKOFF_SECONDS": json.dumps(list(config.retry_backoff_seconds))})
        self.issuers: list[Issuer] = []
        self.report = SoakReport(issuers=config.issuers)
        self.started = 0.0
        self._poison_arrived = False

    def note(self, message: str) -> None:
        """Progress on stderr (stdout holds the handlers' logs during the run)."""
        print(f"[soak {time.monotonic() - self.started:6.1f}s] {message}", file=sys.__stderr__, flush=True)

    # --- the HTTP faces ------------------------------------------------------------------------

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.stack.api_url, timeout=60,
                            headers={"Authorization": f"Bearer {self.stack.admin_token}"})

    def spiris(self) -> httpx.Client:
        return httpx.Client(base_url=self.stack.spiris_url or "", timeout=30)

    def operator(self) -> httpx.Client:
        return httpx.Client(base_url=self.stack.operator_url or "", timeout=60)

    # --- run -----------------------------------------------------------------------------------

    def _invoke_hook(self, pump: Pump, messages: list[dict[str, Any]], invoke: Any) -> Any:
        """Changes in Spiris right before a handler runs (soak_changes.py), then the delivery faults."""
        if self.changes is not None and self.faults.enabled:
            self.changes.before_handler(pump.function, messages)
        return self.faults(pump, messages, invoke)

    def run(self) -> SoakReport:
        self.started = time.monotonic()
        self.stack.start()
        try:
            self.faults.attach(self.stack.aws.client("sqs"))
            self.crashes.attach(self.stack.aws.resources.queue_urls)
            step_crashes.activate(self.crashes)
            self.changes = SourceChanges(self.stack.spiris_url or "", self.config.change_share, self._stored_status)
            self._setup()
            self.note(f"{len(self.issuers)} issuers connected, {self.report.invoices_seeded} invoices seeded; "
                      "faults on")
            self._drive()
            self.note("every invoice terminal" if self.report.finished else "deadline reached")
            self._measure()
        finally:
            step_crashes.activate(None)
            self.report.seconds = round(time.monotonic() - self.started, 1)
            self.stack.stop()
        return self.report

    def _per_issuer(self) -> list[int]:
        base, extra = divmod(self.config.invoices, self.config.issuers)
        return [base + (1 if i < extra else 0) for i in range(self.config.issuers)]

    def _setup(self) -> None:
        cfg = self.config
        with self.operator() as operator:
            operator.post("/_sandbox/receivers", json={"org_number": org_number("556012345"),
                                                       "name": "Nordisk Detaljhandel AB"}).raise_for_status()
            operator.post("/_sandbox/receivers", json={"gln": "7300009012343",
                                                       "name": "Byggbolaget i Norr AB"}).raise_for_status()
            operator.post("/_sandbox/faults", json={"seed": cfg.seed}).raise_for_status()
        with self.spiris() as spiris:  # short-lived access tokens from the first grant on
            spiris.post("/_sandbox/config", json={
                "access_token_lifetime_seconds": cfg.access_token_lifetime_seconds}).raise_for_status()
        logo = logo_png()
        for index, count in enumerate(self._per_issuer()):
            issuer = Issuer(index=index, org=org_number(f"5590{index:05d}"),
                            email=f"ekonomi@issuer{index:02d}.example.se", provider=self._provider(index))
            self.issuers.append(issuer)
            self._seed_company(issuer)
            self._seed_invoices(issuer, 0, max(1, int(count * cfg.first_sync_share)))
            self._create_issuer(issuer, logo)
            self._connect(issuer)
        self.report.invoices_seeded = sum(i.seeded for i in self.issuers)
        # Every fault at once, from the first sync on.
        with self.spiris() as spiris:
            spiris.post("/_sandbox/faults", json=cfg.spiris_faults).raise_for_status()
        with self.operator() as operator:
            operator.post("/_sandbox/faults", json=cfg.operator_faults).raise_for_status()
            operator.post("/_sandbox/settings", json=cfg.operator_settings).raise_for_status()
        self.stack.aws.ses_faults.set_rates(cfg.ses_faults, seed=cfg.seed, hang_seconds=cfg.ses_hang_seconds)
        self.stack.aws.ses_faults.queue(*cfg.ses_script)
        self.stack.aws.sqs_batch_faults.set_rate(cfg.sqs_batch_entry_failures, seed=cfg.seed)
        self.faults.enabled = self.crashes.enabled = True
        sqs = self.stack.aws.client("sqs")
        for queue in QUEUES:
            sqs.send_message(QueueUrl=self.stack.aws.resources.queue_urls[queue], MessageBody=POISON_BODY)
            self.report.poison_messages_sent += 1

    def _seed_company(self, issuer: Issuer) -> None:
        with self.spiris() as spiris:
            issuer.company_id = onboarding.spiris_company(
                spiris, name=f"Soak Issuer {issuer.index:02d} AB", org=issuer.org,
                contact_email=self._contact(issuer), password=PASSWORD)
            for buyer in buyers():
                post_json(spiris, f"/_sandbox/companies/{issuer.company_id}/customers", buyer.spiris)

    @staticmethod
    def _contact(issuer: Issuer) -> str:
        return f"contact{issuer.index:02d}@issuer{issuer.index:02d}.example.se"

    def _seed_invoices(self, issuer: Issuer, start: int, end: int, *, plan_changes: bool = True) -> None:
        """Invoices start..end-1 of this issuer: numbers are unique across issuers; every tenth is paid.
        Some of the others get a change planned in Spiris while on their way (soak_changes.py)."""
        all_buyers = buyers()
        paid_every = round(1 / self.config.paid_share) if self.config.paid_share else 0
        held = start == 0  # the first sync's invoices are held for the office's review
        with self.spiris() as spiris:
            for k in range(start, end):
                number = (issuer.index + 1) * 100_000 + k
                buyer = all_buyers[k % len(all_buyers)]
                paid = bool(paid_every) and k % paid_every == paid_every - 1
                rows = [RowSpec(f"Konsulttimmar {k}", Decimal(1 + k % 7), Decimal("950.00"), unit="h"),
                        RowSpec("Resekostnader", Decimal("1"), Decimal(f"{100 + k % 50}.50"))]
                source = invoice(buyer.spiris, number, rows,
                                 payment_status=0 if paid else 1, remaining=Decimal("0") if paid else None)
                created = post_json(spiris, f"/_sandbox/companies/{issuer.company_id}/customerinvoices", source)
                issuer.seeded += 1
                if paid:
                    continue
                issuer.selected_numbers.add(str(number))
                if plan_changes and self.changes is not None and issuer is not self._revoke_target():
                    seeded = SeededInvoice(issuer.company_id, created.json()["id"], number, buyer.spiris, rows, source)
                    self.changes.plan(seeded, held=held)

    def _seed_malformed(self, issuer: Issuer, count: int) -> None:
        """Source invoices that cannot be read or mapped, among the good ones: each must be parked and notified."""
        share = self.config.malformed_share
        if not share:
            return
        buyer = buyers()[0].spiris
        with self.spiris() as spiris:
            for j in range(max(1, round(count * share))):
                number = (issuer.index + 1) * 100_000 + MALFORMED_NUMBER_OFFSET + j
                seed_malformed(spiris, issuer.company_id, buyer, number,
                               MALFORMED_KINDS[(issuer.index + j) % len(MALFORMED_KINDS)])
                issuer.malformed_numbers.add(str(number))
                issuer.seeded += 1

    def _provider(self, index: int) -> str:
        every = round(1 / self.config.inexchange_share) if self.config.inexchange_share else 0
        return "inexchange" if every and index % every == 1 % every else "maventa"

    def _create_issuer(self, issuer: Issuer, logo: bytes) -> None:
        with self.operator() as operator, self.admin() as admin:
            account = onboarding.INEXCHANGE if issuer.provider == "inexchange" else onboarding.operator_account(operator)
            issuer.issuer_id = onboarding.create_issuer(
                admin, name=f"Soak Issuer {issuer.index:02d} AB", org=issuer.org, notification_email=issuer.email,
                account=account, logo=logo, operator=operator)

    def _connect(self, issuer: Issuer) -> None:
        with self.admin() as admin:
            ordered = onboarding.order_integration(
                admin, issuer.issuer_id, contact_name="Anna Andersson", contact_email=self._contact(issuer))
        issuer.integration_id = ordered["id"]
        status = onboarding.consent(ordered["consent_url"], contact_email=self._contact(issuer), password=PASSWORD,
                                    company_id=issuer.company_id)
        if status != 200:
            raise RuntimeError(f"consent for issuer {issuer.index} answered {status}")

    # --- drive until every invoice is terminal -------------------------------------------------

    def _drive(self) -> None:
        cfg = self.config
        deadline = self.started + cfg.timeout_seconds
        rest_seeded = False
        revoked_target = self._revoke_target()
        last_sync = last_note = last_track = 0.0
        last_sweep = time.monotonic()
        while time.monotonic() < deadline:
            now = time.monotonic()
            # A new round of syncs once the last one is through (a sync of a busy issuer takes seconds
            # under the injected 429s; piling up manual syncs would only queue duplicates).
            if now - last_sync >= 2 and self.stack.drainer.depths()["SyncQueue"] <= self._sync_poison_left():
                self._sync_all()
                last_sync = now
            invoices = self._progress()
            if self.changes is not None:
                self.changes.observe(invoices)
            self._release_held(invoices)
            if not rest_seeded and self._first_syncs_done(invoices) and self._handed_on(invoices, revoked_target):
                if revoked_target is not None:
                    self._revoke(revoked_target)
                for issuer, count in zip(self.issuers, self._per_issuer(), strict=True):
                    if not issuer.revoked:
                        self._seed_invoices(issuer, issuer.seeded, count)
                        self._seed_malformed(issuer, count)
                    else:  # seeded after the grant was revoked: never selected
                        self._seed_unselectable(issuer, count)
                self.report.invoices_seeded = sum(i.seeded for i in self.issuers)
                self.note(f"first syncs done; {self.report.invoices_seeded} invoices seeded in all")
                rest_seeded = True
                last_sync = 0.0
                continue
            if now - last_track >= TRACK_SECONDS:
                self._tick("TrackDeliveriesFunction")
                last_track = now
            if now - last_sweep >= SWEEP_SECONDS:
                self._tick("SweepStuckFunction")
                last_sweep = now
            if now - last_note >= 10:
                self.note(f"{dict(Counter(i['status'] for i in invoices))}; queues {self.stack.drainer.depths()}")
                last_note = now
            if rest_seeded and self._all_terminal(invoices) and self._poison_in_dlqs():
                self.report.finished = True
                self._final_sweeps()
                return
            time.sleep(max(0.0, now + ROUND_SECONDS - time.monotonic()))

    def _final_sweeps(self, most: int = 10) -> None:
        """The sweeps that would follow in the next minutes, until no parked notice waits: a notice whose
        mail failed is the sweeper's to send (fetch/parked_notices.py), and the last ones may have failed
        after the last scheduled tick. Each is an ordinary scheduled run with the same injected faults."""
        for _ in range(most):
            results = self._tick("SweepStuckFunction")
            waiting = [r for r in results.values() if isinstance(r, dict)]
            if waiting and all(r.get("parked_notices_waiting", 0) == r.get("parked_notices_sent", 0)
                               for r in waiting):
                return
            self.report.final_sweeps += 1

    def _revoke_target(self) -> Issuer | None:
        """The issuer whose grant is revoked after its first sync (its invoices get no changes in Spiris:
        with the grant gone they fail loudly, which is the point of revoking it)."""
        cfg = self.config
        return self.issuers[-1] if cfg.revoke_one_issuer and cfg.issuers > 1 and len(self.issuers) == cfg.issuers \
            else None

    def _tick(self, function: str) -> dict[str, Any]:
        """A scheduled run and its results; one that died mid-way (an injected crash) is simply over, as in
        AWS, with no result."""
        with contextlib.suppress(StepCrash):
            return self.stack.tick(function)
        return {}

    def _sync_poison_left(self) -> int:
        """Poison (and its injected copies) still on the SyncQueue: it does not hold up a sync round."""
        return 0 if self._poison_in_dlqs() else 2

    def _seed_unselectable(self, issuer: Issuer, count: int) -> None:
        before = set(issuer.selected_numbers)
        self._seed_invoices(issuer, issuer.seeded, count, plan_changes=False)
        issuer.selected_numbers = before  # the integration can no longer read them

    def _sync_all(self) -> None:
        with self.admin() as admin:
            for issuer in self.issuers:  # the revoked one too: that is how its sync finds out
                admin.post(f"/integrations/{issuer.integration_id}/sync")  # refused once it is stopped

    def _progress(self) -> list[dict[str, Any]]:
        """`id`, `number`, `status`, `channel` of every invoice, for the drive loop's checks each round.

        Read from moto's table in this process (as `sent_mail_headers` reads SES), under the lock the
        moto server holds while it serves a DynamoDB request. Through the admin API it is a paged Scan
        of the whole table, and moto sorts the whole table again for every page: done every round, that
        grows with the square of the table and competes with the pipeline for the one CPU the process
        has. The figures at the end are read through the admin API (`_list_invoices`)."""
        table = self._moto_table()
        with _dynamodb_lock():
            datas = [
                item.attrs["data"].value
                for key, items in table.items.items() if str(key.value).startswith("INVOICE#")
                for sort_key, item in items.items() if sort_key.value == "INVOICE"
            ]
        out = []
        for data in datas:  # the item keeps the invoice JSON zlib-compressed (adapters/dynamo_invoices.py)
            invoice = json.loads(zlib.decompress(data) if isinstance(data, bytes) else data)
            out.append({field: invoice.get(field) for field in ("id", "number", "status", "channel", "issuer_id",
                                                                "version", "document_type")})
        return out

    def _moto_table(self) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        from .aws import ACCOUNT_ID, REGION

        return dynamodb_backends[ACCOUNT_ID][REGION].get_table(self.stack.environment["TABLE_NAME"])

    def _stored_status(self, invoice_id: str) -> str | None:
        """One invoice's status as stored now (read as `_progress` reads)."""
        from moto.dynamodb.models.dynamo_type import DynamoType

        table = self._moto_table()
        with _dynamodb_lock():
            item = table.get_item(DynamoType({"S": f"INVOICE#{invoice_id}"}), DynamoType({"S": "INVOICE"}))
            return None if item is None else str(item.attrs["status"].value)

    def _list_invoices(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        with self.admin() as admin:
            while True:
                params: dict[str, Any] = {"limit": 500}
                if cursor:
                    params["cursor"] = cursor
                page = admin.get("/invoices", params=params)
                page.raise_for_status()
                items.extend(page.json()["items"])
                cursor = page.json().get("next_cursor")
                if not cursor:
                    return items

    def _release_held(self, invoices: list[dict[str, Any]]) -> None:
        held = [i for i in invoices if i["status"] == "held"]
        with self.admin() as admin:
            for item in held:
                admin.post(f"/invoices/{item['id']}/release")  # 409 if released meanwhile

    def _first_syncs_done(self, invoices: list[dict[str, Any]]) -> bool:
        numbers = {str(i["number"]) for i in invoices}
        return all(issuer.selected_numbers <= numbers for issuer in self.issuers)

    @staticmethod
    def _handed_on(invoices: list[dict[str, Any]], issuer: Issuer | None) -> bool:
        """None of the issuer's invoices still waits for its render message. A sync that died between an
        import and its render message sends it on retry, but a retry after the revocation finds the grant
        gone and reads nothing: only the sweeper (15 minutes, past a reduced soak's deadline) would hand the
        invoice on then. Revoking once they are handed on keeps the soak strict about every other hand-off."""
        return issuer is None or not any(
            i["status"] == "queued" for i in invoices if i.get("issuer_id") == issuer.issuer_id)

    def _revoke(self, issuer: Issuer) -> None:
        """Revoke every token the issuer's grant produced, at the Spiris sandbox (as when the user
        withdraws the app's access): the refresh token stops working, API calls answer 401."""
        from .spiris.app import sandbox_state

        state = sandbox_state(self.stack._spiris_server.app)
        with state.lock:
            for family in state.families.values():
                if family.company_id == issuer.company_id:
                    family.revoked = True
        issuer.revoked = True

    def _all_terminal(self, invoices: list[dict[str, Any]]) -> bool:
        numbers = {str(i["number"]) for i in invoices}
        expected = set().union(*(i.selected_numbers for i in self.issuers))
        return expected <= numbers and all(_terminal(i) for i in invoices)

    def _dlq_depths(self) -> dict[str, int]:
        sqs = self.stack.aws.client("sqs")
        return {dlq: sum(int(v) for v in sqs.get_queue_attributes(
            QueueUrl=self.stack.aws.resources.queue_urls[dlq],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"].values()) for dlq in DEAD_LETTER_QUEUES.values()}

    def _poison_in_dlqs(self) -> bool:
        """A message in each DLQ, for the poison sent to each queue (which they are is checked at the end):
        a sum over the DLQs could be reached with one poison still on its way, if a real message were given
        up meanwhile. Nothing leaves a DLQ during the run, so once true it is not asked again."""
        if not self._poison_arrived:
            self._poison_arrived = all(depth >= 1 for depth in self._dlq_depths().values())
        return self._poison_arrived

    def _dlq_bodies(self) -> dict[str, list[str]]:
        """Every message body in each DLQ; read once at the end (they stay hidden for a minute)."""
        sqs = self.stack.aws.client("sqs")
        out: dict[str, list[str]] = {}
        for dlq in DEAD_LETTER_QUEUES.values():
            url = self.stack.aws.resources.queue_urls[dlq]
            bodies: list[str] = []
            while True:
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
                if not got.get("Messages"):
                    break
                bodies.extend(m["Body"] for m in got["Messages"])
            out[dlq] = bodies
        return out

    # --- the figures ---------------------------------------------------------------------------

    def _measure(self) -> None:
        report = self.report
        with contextlib.suppress(Exception):
            self.stack.drain_until_idle(30)
        invoices = self._list_invoices()
        by_number = {str(i["number"]): i for i in invoices}
        expected = set().union(*(i.selected_numbers for i in self.issuers))
        # A credit note is selected only when its original had gone out: checked in `_measure_changes`.
        credit_notes = self.changes.credit_numbers() if self.changes is not None else set()
        report.invoices_expected_selected = len(expected)
        report.selected = len(invoices)
        report.status_counts = dict(Counter(i["status"] for i in invoices))
        report.delivered = report.status_counts.get("delivered", 0)
        report.sent_by_email = report.status_counts.get("sent", 0)
        report.cancelled = report.status_counts.get("cancelled", 0)
        report.lost = len(expected - set(by_number))
        report.unexpected = len(set(by_number) - expected - credit_notes)
        pending = [i for i in invoices if not _terminal(i)]
        report.still_pending = len(pending)
        report.pending_invoices = pending[:20]  # what a failed run needs to be looked into

        mails = sent_mail_headers()
        issuer_of = {i.issuer_id: i for i in self.issuers}
        failed = [i for i in invoices if i["status"] == "failed"]
        report.failed = len(failed)
        for item in failed:
            issuer = issuer_of.get(item.get("issuer_id", ""))
            notified = any(
                (issuer is None or issuer.email in m["to"]) and f" {item['number']} " in (m["subject"] or "")
                for m in mails)
            report.failed_with_notification += notified
        report.failed_without_notification = report.failed - report.failed_with_notification

        documents = self._measure_operator(invoices)
        mailed = self._measure_mail(invoices, mails)
        self._measure_changes(mailed, documents)
        self._measure_malformed(mails)
        report.crashes_between_steps = dict(self.crashes.counts)
        report.crash_points_missed = self.crashes.missed()
        report.ses_faults_injected = dict(self.stack.aws.ses_faults.injected)
        report.sqs_batch_entries_failed = self.stack.aws.sqs_batch_faults.failed.total()

        dlqs = self._dlq_bodies()
        report.messages_in_dlqs = {q: len(b) for q, b in dlqs.items()}
        report.poison_messages_in_dlqs = sum(b.count(POISON_BODY) for b in dlqs.values())
        report.non_poison_in_dlqs = sum(len(b) - b.count(POISON_BODY) for b in dlqs.values())
        report.non_poison_dlq_messages = [f"{q}: {b}"[:300] for q, bodies in dlqs.items() for b in bodies
                                          if b != POISON_BODY][:10]  # what a failed run needs looked into

        revoked = next((i for i in self.issuers if i.revoked), None)
        if revoked is not None:
            with self.admin() as admin:
                report.revoked_integration_status = admin.get(
                    f"/integrations/{revoked.integration_id}").json()["status"]
            name = f"Soak Issuer {revoked.index:02d} AB"
            report.revoked_issuer_notified = any(
                revoked.email in m["to"] and name in (m["subject"] or "")
                and any(word in (m["subject"] or "") for word in ("förnyas", "renewed"))
                for m in mails)

        report.injected = dict(self.faults.counts)
        with self.spiris() as spiris:
            report.spiris_requests = spiris.get("/_sandbox/stats").json().get("requests", {})
        with self.operator() as operator:
            report.operator_faults_injected = operator.get("/_sandbox/stats").json().get("injected", {})
        if self.log_stream is not None:
            self.log_stream.flush()
            report.metrics = emf_totals(Path(self.log_stream.name))
            report.alarms_counted_from = (
                "EMF metric lines the handlers printed (sum per metric); an alarm fires when its metric's sum"
                " > 0, as the template's alarms say; DLQ alarms fire when the DLQ holds messages")
        else:
            report.alarms_counted_from = "failure notifications (no EMF output captured)"
            report.metrics = {"TransferFailed": float(report.failed_with_notification)}
        report.alarms_fired = {
            alarm: int(report.metrics.get(metric, 0)) for metric, alarm in METRIC_ALARMS.items()
            if report.metrics.get(metric, 0) > 0}
        for dlq in DEAD_LETTER_QUEUES.values():
            if report.messages_in_dlqs.get(dlq):
                report.alarms_fired[f"{dlq}Alarm"] = report.messages_in_dlqs[dlq]


    def _measure_operator(self, invoices: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """What the operator holds, against our statuses: duplicates (per client id, and per invoice number
        among documents that did not fail there) and invoices we call failed that the operator holds.
        Returns the documents."""
        report = self.report
        with self.operator() as operator:
            documents: list[dict[str, Any]] = operator.get("/_sandbox/invoices").json()
        per_uuid = Counter(d["uuid"] for d in documents)
        report.operator_documents = len(documents)
        report.operator_documents_by_provider = dict(Counter(d["provider"] for d in documents))
        report.issuers_by_provider = dict(Counter(i.provider for i in self.issuers))
        report.duplicated_at_operator = sum(n - 1 for n in per_uuid.values() if n > 1)
        held = Counter(str(d["number"]) for d in documents if d["status"] != "FAILED")
        report.duplicated_invoices_at_operator = sum(n - 1 for n in held.values() if n > 1)
        report.falsely_failed = sum(1 for i in invoices if i["status"] == "failed" and held[str(i["number"])])
        return documents

    def _measure_mail(self, invoices: list[dict[str, Any]], mails: list[dict[str, Any]]) -> Counter[str]:
        """Buyer mails per invoice number (the subject names it): more than one is a duplicate; an invoice
        `sent` by e-mail without one was lost. Returns the counts."""
        buyer_addresses = {b.spiris["EmailAddress"] for b in buyers() if b.spiris.get("EmailAddress")}
        mailed: Counter[str] = Counter(
            (m["subject"] or "").split()[1] for m in mails
            if set(m["to"]) & buyer_addresses and len((m["subject"] or "").split()) > 1)
        self.report.duplicated_mail = sum(n - 1 for n in mailed.values() if n > 1)
        self.report.sent_by_email_without_mail = sum(
            1 for i in invoices if i.get("channel") == "email" and i["status"] == "sent" and not mailed[str(i["number"])])
        return mailed

    def _measure_changes(self, mailed: Counter[str], documents: list[dict[str, Any]]) -> None:
        """Invoices changed in Spiris on their way: paid or credited ones cancelled unless already gone out,
        edited ones sent as edited unless already gone out (soak_changes.py)."""
        if self.changes is None:
            return
        final = {str(i["number"]): i for i in self._progress()}
        xml_by_number: dict[str, list[str]] = {}
        for document in documents:
            xml = base64.b64decode(document.get("file") or "").decode("utf-8", errors="replace")
            xml_by_number.setdefault(str(document["number"]), []).append(xml)

        def gone_out(number: str) -> bool:
            return bool(mailed[number]) or number in xml_by_number

        self.report.changes = self.changes.figures(final, gone_out, xml_by_number)

    def _measure_malformed(self, mails: list[dict[str, Any]]) -> None:
        """Every malformed source invoice parked (GET /failures) and its issuer told (one notice each)."""
        report = self.report
        malformed = {number: issuer for issuer in self.issuers for number in issuer.malformed_numbers}
        report.malformed_seeded = len(malformed)
        with self.admin() as admin:
            listed = admin.get("/failures").json().get("source_invoices", [])
        report.malformed_parked = len({str(item["number"]) for item in listed} & set(malformed))
        report.malformed_notified = sum(
            1 for number, issuer in malformed.items()
            if any(issuer.email in m["to"] and PARKED_SUBJECT in (m["subject"] or "")
                   and (m["subject"] or "").split()[1:2] == [number] for m in mails))


def _dynamodb_lock() -> Any:
    from .moto_server import DYNAMODB_LOCK

    return DYNAMODB_LOCK


def sent_mail_headers() -> list[dict[str, Any]]:
    """`to` and `subject` of every mail moto's SES accepted, read from moto's backend in this process.

    `stack.mail()` reads moto's whole state dump (/moto-api/data.json: every table item and S3 object),
    which takes longer than its timeout at soak sizes; the SES backend alone is instant.
    """
    import email
    import email.policy
    from email.utils import getaddresses

    from moto.ses.models import RawMessage, ses_backends

    from .aws import ACCOUNT_ID, REGION

    out: list[dict[str, Any]] = []
    for message in list(ses_backends[ACCOUNT_ID][REGION].sent_messages):
        if isinstance(message, RawMessage):
            parsed = email.message_from_string(message.raw_data or "", policy=email.policy.default)
            to = [address for _, address in getaddresses(parsed.get_all("To") or [])]
            out.append({"to": to, "subject": str(parsed.get("Subject") or "")})
        else:
            out.append({"to": list((message.destinations or {}).get("ToAddresses", [])),
                        "subject": message.subject or ""})
    return out


def _terminal(item: dict[str, Any]) -> bool:
    return item["status"] in (EMAIL_TERMINAL if item.get("channel") == "email" else TERMINAL)


def emf_totals(path: Path) -> dict[str, float]:
    """Sum every metric in the CloudWatch EMF lines of a log file."""
    totals: Counter[str] = Counter()
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if '"_aws"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
                for metric in directive.get("Metrics", []):
                    value = record.get(metric["Name"])
                    values = value if isinstance(value, list) else [value]
                    totals[metric["Name"]] += sum(float(v) for v in values if isinstance(v, int | float))
    return dict(totals)


def run_soak(config: SoakConfig, log_path: Path | None = None) -> SoakReport:
    """Run the soak with the handlers' stdout (JSON logs, EMF metrics) in `log_path`; write the report."""
    log_path = log_path or config.out_path.with_name("soak-logs.jsonl")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        with open(log_path, "w", encoding="utf-8") as log_file, contextlib.redirect_stdout(log_file), \
                _logs_to(log_file):
            report = Soak(config, log_stream=log_file).run()
    config.out_path.parent.mkdir(parents=True, exist_ok=True)
    config.out_path.write_text(json.dumps(asdict(report), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return report


@contextlib.contextmanager
def _logs_to(stream: Any) -> Iterator[None]:
    """Handler logs and the drainer's (injected crashes are logged with tracebacks) go to the log file,
    as CloudWatch would keep them; restored afterwards (the soak may run inside a test process)."""
    from invoice_bridge.observability import logger

    handlers = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
    saved_streams = [h.stream for h in handlers]
    sandbox_log = logging.getLogger("sandbox")
    saved = (list(sandbox_log.handlers), sandbox_log.propagate)
    for handler in handlers:
        handler.setStream(stream)
    sandbox_log.handlers[:] = [logging.StreamHandler(stream)]
    sandbox_log.propagate = False
    try:
        yield
    finally:
        for handler, original in zip(handlers, saved_streams, strict=True):
            handler.setStream(original)
        sandbox_log.handlers[:], sandbox_log.propagate = saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issuers", type=int, default=20)
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=2026)
    # 2,000 invoices under every fault take 20 to 40 minutes on 2 shared cores (one Python process holds
    # the whole stack); the deadline only stops a stuck run.
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds before giving up")
    parser.add_argument("--out", type=Path, default=OUT / "soak.json")
    args = parser.parse_args(argv)
    config = SoakConfig(issuers=args.issuers, invoices=args.invoices, seed=args.seed,
                        timeout_seconds=args.timeout, out_path=args.out)
    report = run_soak(config)
    print(json.dumps(asdict(report), indent=2, sort_keys=True))
    print(summary(report))
    print(f"written to {config.out_path}", file=sys.stderr)
    broken = problems(report)
    for problem in broken:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if broken else 0


def problems(report: SoakReport) -> list[str]:
    """Every promise the run broke (empty: the soak passed)."""
    changes = report.changes
    checks = {
        "not every invoice reached a terminal state before the deadline": not report.finished,
        f"{report.duplicated_at_operator} documents duplicated at the operator (per client id)":
            report.duplicated_at_operator,
        f"{report.duplicated_invoices_at_operator} invoices held twice by the operator":
            report.duplicated_invoices_at_operator,
        f"{report.duplicated_mail} invoices mailed twice": report.duplicated_mail,
        f"{report.lost} invoices lost": report.lost,
        f"{report.sent_by_email_without_mail} invoices `sent` by e-mail without a mail": report.sent_by_email_without_mail,
        f"{report.still_pending} invoices stuck": report.still_pending,
        f"{report.unexpected} invoices imported that should not have been": report.unexpected,
        f"{report.falsely_failed} invoices failed although the operator holds them": report.falsely_failed,
        f"{report.failed_without_notification} failures without a notice": report.failed_without_notification,
        f"{changes.paid_or_credited_not_cancelled} paid or credited invoices not cancelled":
            changes.paid_or_credited_not_cancelled,
        f"{changes.edited_sent_stale} edited invoices sent with their old content": changes.edited_sent_stale,
        f"{changes.credit_notes_of_originals_not_sent} credit notes sent for originals that were not":
            changes.credit_notes_of_originals_not_sent,
        f"{report.malformed_seeded - report.malformed_parked} malformed invoices not parked":
            report.malformed_seeded - report.malformed_parked,
        f"{report.malformed_seeded - report.malformed_notified} malformed invoices not notified":
            report.malformed_seeded - report.malformed_notified,
        f"crash points never hit: {report.crash_points_missed}": report.crash_points_missed,
        "poison messages missing from their DLQs": report.poison_messages_in_dlqs < report.poison_messages_sent,
        f"{report.non_poison_in_dlqs} real messages given up on in a DLQ": report.non_poison_in_dlqs,
    }
    return [problem for problem, broken in checks.items() if broken]


def summary(report: SoakReport) -> str:
    """The promise in figures, one line each."""
    changes = report.changes
    return "\n".join([
        f"soak: {report.invoices_seeded} invoices seeded, {report.selected} selected, {report.seconds} s"
        f" ({'finished' if report.finished else 'DEADLINE'})",
        f"duplicated: operator {report.duplicated_at_operator} (per id) / {report.duplicated_invoices_at_operator}"
        f" (per invoice), mail {report.duplicated_mail}",
        f"lost: {report.lost} (+ {report.sent_by_email_without_mail} `sent` by e-mail without a mail);"
        f" stuck: {report.still_pending}",
        f"paid or credited in Spiris on their way: {changes.paid_or_credited}; cancelled"
        f" {changes.paid_or_credited_cancelled}, had already gone out {changes.paid_or_credited_gone_out_before_the_change},"
        f" neither {changes.paid_or_credited_not_cancelled}",
        f"edited on their way: {changes.edited}; sent as edited {changes.edited_sent_revised}, had already gone out"
        f" {changes.edited_gone_out_before_the_change}, old content sent {changes.edited_sent_stale}",
        f"malformed: {report.malformed_seeded} seeded, {report.malformed_parked} parked,"
        f" {report.malformed_notified} notified ({report.final_sweeps} sweeps after the last invoice was done)",
        f"failed {report.failed} ({report.failed_without_notification} without a notice); crashes between steps"
        f" {report.crashes_between_steps}",
        f"faults: SES {report.ses_faults_injected}, SQS batch entries {report.sqs_batch_entries_failed},"
        f" operator {report.operator_faults_injected}, queues {report.injected}",
    ])


if __name__ == "__main__":
    raise SystemExit(main())
