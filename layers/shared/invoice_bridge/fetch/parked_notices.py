"""Notices of parked source invoices that did not go out when the sync parked them, sent by the sweeper.

The sync tells the issuer as it parks a source version. When that notice fails (SES throttled, no
answer), the decision stays `parked` and not `notified`, and waits on a list of its own (GSI3
`WAITING#parked_notice`, docs/dynamodb.md) instead of on a later sync reading that version again: the
watermark has usually moved past it, and an integration that stopped is not synced at all. Every sweep
reads the list (one query; empty when all is well) and sends each notice on it once:

- a conditional claim first, so two runs at the same time (a sweep and its retry) never both send;
- sent: the decision becomes `notified` and leaves the list; not sent: the claim is let go and the next
  sweep tries again. A claim left by a run that died is free again after `NOTICE_CLAIM`.

A later decision of the same source invoice (fixed, or changed and parked again) replaces the waiting one
and its claim; the sync then tells of the new version itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit

from ..models.issuer import Issuer
from ..observability import logger, metrics
from ..ports import IssuerRepository
from .decisions import NotifyParked, ParkedSource, PendingNotices

# Longer than a sweep can run (its Lambda timeout), so a claim is never taken over while its mail is on
# its way; short enough that a run that died delays the notice by a few sweeps only.
NOTICE_CLAIM = timedelta(minutes=10)


@dataclass
class ParkedNoticeResult:
    waiting: int = 0  # on the list when the sweep read it
    sent: int = 0
    not_sent: int = 0  # tried and failed: still on the list

    def as_dict(self) -> dict[str, int]:
        return {f"parked_notices_{name}": value for name, value in asdict(self).items()}


def send_waiting_parked_notices(
    pending: PendingNotices,
    issuers: IssuerRepository,
    notify: NotifyParked,
    *,
    now: datetime,
    limit: int = 100,
) -> ParkedNoticeResult:
    """One pass over the list (module docstring): at most `limit` notices, the earliest parked first; a
    longer list is the next sweep's."""
    result = ParkedNoticeResult()
    known: dict[str, Issuer] = {}
    for parked in pending.awaiting_notice(limit):
        result.waiting += 1
        if not pending.claim_notice(parked, now=now, until=now + NOTICE_CLAIM):
            continue  # another run holds it, or a later decision replaced this version
        sent = _send(parked, issuers, notify, known)
        pending.settle_notice(parked, sent=sent)
        if sent:
            result.sent += 1
        else:
            result.not_sent += 1
    metrics.add_metric(name="ParkedNoticesWaiting", unit=MetricUnit.Count, value=result.waiting)
    return result


def _send(parked: ParkedSource, issuers: IssuerRepository, notify: NotifyParked, known: dict[str, Issuer]) -> bool:
    decision = parked.decision
    where = {"integration_id": parked.integration_id, "source_id": decision.source_id}
    try:
        issuer_id = decision.issuer_id or ""
        if issuer_id not in known:
            known[issuer_id] = issuers.get(issuer_id)
        notify(known[issuer_id], decision)
    except Exception as exc:  # noqa: BLE001 - one notice that fails must not stop the others; it is retried
        logger.warning("parked invoice still not notified", extra={**where, "error": type(exc).__name__})
        return False
    logger.info("parked invoice notified by the sweeper", extra=where)
    return True
