"""Dispatch: channel policy, exactly-once delivery, status tracking, failure notices, the dispatch report."""

from ..ports import (
    MailNotSent,
    MailOutcomeUnknown,
    MailRejected,
    OperatorError,
    OperatorOutcomeUnknown,
    OperatorRejected,
    OperatorUnavailable,
)
from .notify import Failure, FailureNotifier, buyer_mail, render
from .policy import (
    NoChannel,
    Route,
    choose_channel,
    clear_lookup_cache,
    deliverability_problems,
    find_receiver,
)
from .report import COLUMNS, ReportRow, dispatch_report, period_bounds, to_csv
from .service import (
    DispatchInProgress,
    DispatchServices,
    dispatch_invoice,
    fail_delivery,
    idempotency_id,
    move_invoice,
)
from .track import TrackingServices, track_deliveries

__all__ = [
    "COLUMNS",
    "DispatchInProgress",
    "DispatchServices",
    "Failure",
    "FailureNotifier",
    "MailNotSent",
    "MailOutcomeUnknown",
    "MailRejected",
    "NoChannel",
    "OperatorError",
    "OperatorOutcomeUnknown",
    "OperatorRejected",
    "OperatorUnavailable",
    "ReportRow",
    "Route",
    "TrackingServices",
    "buyer_mail",
    "choose_channel",
    "clear_lookup_cache",
    "deliverability_problems",
    "dispatch_invoice",
    "dispatch_report",
    "fail_delivery",
    "find_receiver",
    "idempotency_id",
    "move_invoice",
    "period_bounds",
    "render",
    "to_csv",
    "track_deliveries",
]
