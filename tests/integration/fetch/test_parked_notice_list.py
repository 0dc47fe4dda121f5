"""The list of parked decisions whose notice did not go out (GSI3 `WAITING#parked_notice`, adapters/
dynamo_sync.py) and the sweeper's pass over it (fetch/parked_notices.py), on moto: sent once, claimed
conditionally against a run at the same time, left for the next sweep when it fails, and one small query
when nothing waits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from aws_requests import aws_requests
from invoice_bridge.adapters.aws import resource
from invoice_bridge.adapters.dynamo_sync import DynamoDecisionStore
from invoice_bridge.fetch.decisions import SyncDecision
from invoice_bridge.fetch.parked_notices import NOTICE_CLAIM, ParkedNoticeResult, send_waiting_parked_notices
from invoice_bridge.models.issuer import Issuer
from invoice_bridge.ports import MailNotSent
from invoice_factory import make_issuer
from moto import mock_aws
from port_doubles import MemoryIssuers

from sandbox.aws import create_template_table

TABLE = "t"
NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
ISSUER = make_issuer("iss1")


@pytest.fixture(autouse=True)
def table() -> Iterator[None]:
    with mock_aws():
        create_template_table(TABLE)
        yield


class Notices:
    """The issuer's notices as the sweeper hands them over (the mail itself is the alerts' business)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.failing = False
        self.while_sending: list[object] = []  # run during a send, e.g. a second sweep at the same time

    def __call__(self, issuer: Issuer, parked: SyncDecision) -> None:
        for run in self.while_sending:
            run()  # type: ignore[operator]
        if self.failing:
            raise MailNotSent("throttled")
        self.sent.append((issuer.id, parked.source_id))


def _park(store: DynamoDecisionStore, source_id: str, *, notified: bool, at: datetime = NOW) -> SyncDecision:
    decision = SyncDecision(source_id=source_id, selected=False, reason="unmappable", detail="no rows",
                            source_modified_utc=at, decided_at=at, issuer_id="iss1", parked=True, notified=notified)
    store.record("int1", decision, first_sync=False)
    return decision


def _sweep(store: DynamoDecisionStore, notices: Notices, now: datetime = NOW) -> ParkedNoticeResult:
    return send_waiting_parked_notices(store, MemoryIssuers(ISSUER), notices, now=now)


def test_a_notice_that_went_out_is_not_on_the_list_and_never_sent_again() -> None:
    store, notices = DynamoDecisionStore(TABLE), Notices()
    _park(store, "src1", notified=True)
    assert store.awaiting_notice(100) == []
    assert _sweep(store, notices) == ParkedNoticeResult() and notices.sent == []
    assert [p.decision.source_id for p in store.parked("iss1")] == ["src1"]  # GET /failures lists it all the same


def test_a_notice_that_did_not_go_out_is_sent_by_one_sweep_and_then_leaves_the_list() -> None:
    store, notices = DynamoDecisionStore(TABLE), Notices()
    _park(store, "src1", notified=False)
    _park(store, "src2", notified=True)

    assert _sweep(store, notices) == ParkedNoticeResult(waiting=1, sent=1)
    assert notices.sent == [("iss1", "src1")]
    assert store.get("int1", "src1").notified is True  # type: ignore[union-attr]

    assert _sweep(store, notices, NOW + timedelta(minutes=5)) == ParkedNoticeResult()
    assert notices.sent == [("iss1", "src1")]
    assert {p.decision.source_id for p in store.parked()} == {"src1", "src2"}  # still parked, now notified


def test_a_notice_that_fails_again_waits_for_the_next_sweep() -> None:
    store, notices = DynamoDecisionStore(TABLE), Notices()
    _park(store, "src1", notified=False)
    notices.failing = True
    assert _sweep(store, notices) == ParkedNoticeResult(waiting=1, not_sent=1)
    notices.failing = False
    assert _sweep(store, notices, NOW + timedelta(minutes=5)) == ParkedNoticeResult(waiting=1, sent=1)
    assert notices.sent == [("iss1", "src1")]
    item = resource("dynamodb").Table(TABLE).get_item(Key={"PK": "INTEGRATION#int1", "SK": "DECISION#src1"})["Item"]
    assert item["notice_attempts"] == 1 and not {"GSI3PK", "GSI3SK", "notice_claimed_until"} & set(item)


def test_two_sweeps_at_the_same_time_send_the_notice_once() -> None:
    store, notices = DynamoDecisionStore(TABLE), Notices()
    _park(store, "src1", notified=False)
    racing = Notices()
    results: list[ParkedNoticeResult] = []
    notices.while_sending.append(lambda: results.append(_sweep(store, racing)))  # it read the list too

    assert _sweep(store, notices) == ParkedNoticeResult(waiting=1, sent=1)
    assert results == [ParkedNoticeResult(waiting=1)] and racing.sent == []  # the claim was held
    assert notices.sent == [("iss1", "src1")]


def test_a_claim_left_by_a_run_that_died_is_free_again_after_its_time() -> None:
    store, notices = DynamoDecisionStore(TABLE), Notices()
    _park(store, "src1", notified=False)
    [parked] = store.awaiting_notice(100)
    assert store.claim_notice(parked, now=NOW, until=NOW + NOTICE_CLAIM)  # then the run died

    assert _sweep(store, notices, NOW + timedelta(minutes=5)) == ParkedNoticeResult(waiting=1)
    assert _sweep(store, notices, NOW + NOTICE_CLAIM + timedelta(seconds=1)) == ParkedNoticeResult(waiting=1, sent=1)
    assert notices.sent == [("iss1", "src1")]


def test_a_later_decision_replaces_the_waiting_one_and_its_claim() -> None:
    store, notices = DynamoDecisionStore(TABLE), Notices()
    first = _park(store, "src1", notified=False)
    [waiting] = store.awaiting_notice(100)
    assert store.claim_notice(waiting, now=NOW, until=NOW + NOTICE_CLAIM)

    # A sync parks a changed version meanwhile (its own notice failed too): the old claim is gone with it.
    later = _park(store, "src1", notified=False, at=NOW + timedelta(minutes=1))
    store.settle_notice(waiting, sent=True)  # the old version's notice went out: the new one still waits
    [still] = store.awaiting_notice(100)
    assert still.decision.decided_at == later.decided_at != first.decided_at
    assert _sweep(store, notices, NOW + timedelta(minutes=2)) == ParkedNoticeResult(waiting=1, sent=1)

    # Fixed at the source: no longer parked, so no notice waits.
    store.record("int1", replace(later, parked=False, selected=True, reason="booked"), first_sync=False)
    assert store.awaiting_notice(100) == [] and store.parked() == []


def test_a_sweep_with_nothing_waiting_costs_one_query_and_nothing_else() -> None:
    store, notices = DynamoDecisionStore(TABLE), Notices()
    _park(store, "src1", notified=True)
    with aws_requests() as requests:
        _sweep(store, notices)
    assert requests.of("dynamodb") == [("Query", ())]
