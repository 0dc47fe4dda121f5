"""Issue 12 point 7 on the embedded stack: with about 30 % of operator calls failing (5xx, or an upload
accepted and then answered too late), every invoice still ends delivered, sent or failed, and the failed
messages came back by their backoff (a short local schedule: 1, 2, 4 s), not by the queues' visibility
timeout: the template's own (12 minutes for dispatch) is kept, longer than this run's deadline.

The soak's machinery tells the story (one issuer, a dozen invoices, no other faults); its deadline only
stops a stuck run, it is not a speed claim (make bench measures the time).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.faults import DeliveryFaultRates
from sandbox.soak import SoakConfig, SoakReport, run_soak
from sandbox.template import load_template

DEADLINE_SECONDS = 400
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> SoakReport:
    config = SoakConfig(
        issuers=1,
        invoices=12,
        paid_share=0.0,
        first_sync_share=0.0,
        revoke_one_issuer=False,
        queue_visibility_seconds=None,  # the template's: 720 s for render and dispatch
        retry_backoff_seconds=(1, 2, 4),
        timeout_seconds=DEADLINE_SECONDS,
        out_path=tmp_path_factory.mktemp("transient") / "soak.json",
        spiris_faults={},
        operator_faults={"rate_5xx": 0.2, "accept_then_timeout_rate": 0.15, "hang_seconds": 11.0,
                         "delivery_delay": 0.3, "seed": 12},
        delivery_faults=DeliveryFaultRates(),
        # Only the operator fails here: no changes at the source, malformed invoices, SES faults or crashes.
        change_share=0.0,
        malformed_share=0.0,
        ses_faults={},
        step_crashes={},
    )
    return run_soak(config)


def test_the_queues_keep_the_templates_long_visibility_timeout() -> None:
    queues = load_template(Path(__file__).resolve().parents[2] / "template.yaml").queues
    assert min(queues[name].visibility_timeout for name in ("RenderQueue", "DispatchQueue")) > DEADLINE_SECONDS


def test_every_invoice_ends_terminal_despite_operator_failures(report: SoakReport) -> None:
    assert report.finished, report
    assert report.selected == report.invoices_expected_selected == 12
    assert report.lost == 0 and report.still_pending == 0
    assert report.delivered + report.sent_by_email + report.failed == 12
    assert report.duplicated_at_operator == 0


def test_failed_messages_came_back_by_their_backoff(report: SoakReport) -> None:
    """Retries happened (the operator failed often enough), and each came back within the run, which the
    12-minute visibility timeout would not have allowed; none of the invoices' messages was set aside."""
    assert report.injected.get("redelivered", 0) > 0
    assert report.non_poison_in_dlqs == 0
    assert report.poison_messages_in_dlqs == report.poison_messages_sent
