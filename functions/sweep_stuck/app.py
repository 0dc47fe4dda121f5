"""Sweep: EventBridge Scheduler tick → invoices whose send delay is over are handed to dispatch; invoices
stuck in queued, rendered or sending are handed on again (or failed with a notice). Wiring only.

A tick carries no data (Scheduler sends the schedule's fixed input), so the event is not parsed.
"""

from invoice_bridge import entrypoints, wiring
from invoice_bridge.observability import logger, metrics, tracer

wiring.check_settings("SweepStuckFunction")  # a missing setting stops the cold start, named


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return entrypoints.sweep_stuck()
