"""Poll: EventBridge Scheduler tick → one SyncQueue message per due integration. Wiring only.

A tick carries no data (Scheduler sends the schedule's fixed input), so the event is not parsed.
"""

from invoice_bridge import entrypoints, wiring
from invoice_bridge.observability import logger, metrics, tracer

wiring.check_settings("PollInvoicesFunction")  # a missing setting stops the cold start, named


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: object) -> dict:
    return {"enqueued": len(entrypoints.poll_due_integrations())}
