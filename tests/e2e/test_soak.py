"""The soak in reduced size (issues 8 and 12): 3 issuers (one on InExchange), 60 invoices, every fault at
once, on the strict operator sandbox: invoices edited, paid and credited in Spiris on their way, malformed
ones among them, SES and operator faults, crashes between a stored result and the message that follows.

The figures are the soak's own (sandbox/soak.py); here they must show nothing duplicated at the
operator or by mail, nothing lost, nothing failed that the operator holds, nothing left pending, every
failure notified, every change in Spiris honoured, every malformed invoice parked and notified, and the
poison in its DLQs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox.faults import DeliveryFaultRates
from sandbox.soak import SoakConfig, SoakReport, problems, run_soak
from sandbox.step_crashes import POINT_NAMES

# The crash points outside dispatch. A dispatch that dies after its intent holds the delivery's lease for
# DISPATCH_LEASE_SECONDS (120 s, the function's timeout, as in AWS), which would make this test minutes
# long: `make soak` hits those two points (dispatch → render, dispatch → tracking).
# A reroute is rare in 60 invoices: each one crashes (once) before its message.
CRASH_POINTS = {"sync→render": 0.2, "render→dispatch": 0.2, "tracking→dispatch (rerouted)": 1.0}
SES_ANSWERS = ("accept_then_hang", "throttle", "reject", "accept_then_fail")

# Not a speed claim (speed is make bench's job): the soak gives up here, so a stuck pipeline fails the
# test with its figures instead of hanging the run. It usually ends in well under a minute.
DEADLINE_SECONDS = 300
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> SoakReport:
    out = tmp_path_factory.mktemp("soak") / "soak.json"
    config = SoakConfig(
        issuers=3,
        invoices=60,
        timeout_seconds=DEADLINE_SECONDS,
        out_path=out,
        spiris_faults={"rate_429": 0.05, "rate_5xx": 0.03},
        # Failures often enough that some happen in 60 invoices (each must be notified).
        # The 409 after a stored upload is scripted for the first two uploads (a small run may draw none).
        operator_faults={"rate_5xx": 0.05, "rate_429": 0.1, "retry_after_seconds": 1,
                         "accept_then_timeout_rate": 0.03, "fail_delivery_rate": 0.3,
                         "hang_seconds": 11.0, "delivery_delay": 0.3, "accept_then_conflict_rate": 0.1,
                         "accept_then_conflict_first": 2},
        delivery_faults=DeliveryFaultRates(duplicate=0.05, delay=0.05, delay_seconds=(1, 3),
                                           crash_before=0.03, crash_after=0.03),
        retry_backoff_seconds=(1, 2, 4),
        step_crashes={name: CRASH_POINTS.get(name, 0.0) for name in POINT_NAMES},
        ses_faults={"throttle": 0.03},
        ses_script=SES_ANSWERS,  # each kind once, on the first mails once the faults are on
        sqs_batch_entry_failures=0.2,  # the sync's render messages: most sent again at once, a few by the retry
        change_share=0.3,
        malformed_share=0.1,
    )
    result = run_soak(config)
    assert json.loads(Path(out).read_text())["invoices_seeded"] == result.invoices_seeded
    return result


def test_every_invoice_ends_terminal(report: SoakReport) -> None:
    assert report.finished, report
    assert report.invoices_seeded == 60 + report.malformed_seeded
    assert report.lost == 0 and report.still_pending == 0 and report.unexpected == 0
    # Every seeded invoice that Spiris still lets us read was selected (every tenth is paid: skipped), and
    # so was a credit note whose original had gone out before the sync saw it (whether one did is timing).
    assert report.selected == report.invoices_expected_selected + report.changes.credit_notes_imported
    assert report.invoices_expected_selected > 0
    delivered_or_sent = report.delivered + report.sent_by_email
    assert delivered_or_sent + report.failed + report.cancelled == report.selected


def test_nothing_reaches_the_operator_twice(report: SoakReport) -> None:
    assert report.operator_documents > 0
    assert report.duplicated_at_operator == 0
    assert report.duplicated_invoices_at_operator == 0


def test_both_operators_carry_invoices_and_none_is_failed_that_the_operator_holds(report: SoakReport) -> None:
    assert report.issuers_by_provider == {"maventa": 2, "inexchange": 1}
    assert report.operator_documents_by_provider.get("inexchange", 0) > 0
    assert report.operator_documents_by_provider.get("maventa", 0) > 0
    assert report.falsely_failed == 0


def test_every_failure_is_notified_and_alarmed(report: SoakReport) -> None:
    assert report.failed > 0, "the injected delivery failures should have failed some invoices"
    assert report.failed_with_notification == report.failed
    assert report.failed_without_notification == 0
    assert report.metrics.get("TransferFailed", 0) >= report.failed
    assert "TransferFailedAlarm" in report.alarms_fired


def test_the_faults_were_really_injected(report: SoakReport) -> None:
    assert report.injected.get("duplicated", 0) > 0 and report.injected.get("delayed", 0) > 0
    assert report.injected.get("crashed_before", 0) + report.injected.get("crashed_after", 0) > 0
    # 3 consents exchange 3 codes; every other token request refreshed an expired access token.
    assert report.spiris_requests.get("POST /connect/token", 0) > 3
    assert report.metrics.get("SpirisThrottled", 0) > 0
    assert report.sqs_batch_entries_failed > 0


def test_the_revoked_grant_stops_its_integration_loudly(report: SoakReport) -> None:
    assert report.revoked_integration_status == "needs_reconsent"
    assert report.revoked_issuer_notified
    assert "IntegrationNeedsReconsentAlarm" in report.alarms_fired


def test_the_poison_messages_end_in_their_dead_letter_queues(report: SoakReport) -> None:
    assert report.poison_messages_in_dlqs >= report.poison_messages_sent == 3
    assert report.non_poison_in_dlqs == 0
    assert all(report.messages_in_dlqs[q] >= 1 for q in
               ("SyncDeadLetterQueue", "RenderDeadLetterQueue", "DispatchDeadLetterQueue"))


def test_the_soak_finds_no_broken_promise(report: SoakReport) -> None:
    assert problems(report) == []


def test_nothing_is_mailed_twice_or_lost_in_the_mail(report: SoakReport) -> None:
    assert report.sent_by_email > 0
    assert report.duplicated_mail == 0
    assert report.sent_by_email_without_mail == 0
    # Each SES fault answered once at least: throttled, refused, and sent with the answer lost.
    assert all(report.ses_faults_injected.get(answer, 0) >= 1 for answer in SES_ANSWERS), report.ses_faults_injected


def test_invoices_changed_in_spiris_on_their_way_are_cancelled_or_sent_as_changed(report: SoakReport) -> None:
    changes = report.changes
    kinds = {key.split()[0] for key in changes.made_by_kind_and_stage}
    stages = {key.split()[1] for key in changes.made_by_kind_and_stage}
    assert kinds == {"edit", "pay", "credit"} and {"held", "sending"} <= stages, changes
    assert changes.paid_or_credited == (changes.paid_or_credited_cancelled
                                        + changes.paid_or_credited_gone_out_before_the_change)
    assert changes.paid_or_credited_cancelled > 0
    assert changes.paid_or_credited_not_cancelled == 0
    assert changes.edited_sent_stale == 0
    assert changes.credit_notes_of_originals_not_sent == 0


def test_malformed_invoices_are_parked_and_their_issuers_notified(report: SoakReport) -> None:
    assert report.malformed_seeded == 4  # 2 for each issuer whose grant still works
    assert report.malformed_parked == report.malformed_notified == report.malformed_seeded


def test_every_crash_between_a_stored_result_and_its_message_is_survived(report: SoakReport) -> None:
    assert set(report.crashes_between_steps) == set(CRASH_POINTS), report.crashes_between_steps
    assert report.crash_points_missed == []
    assert report.operator_faults_injected.get("accept_then_conflict", 0) > 0
    assert report.operator_faults_injected.get("429", 0) > 0
