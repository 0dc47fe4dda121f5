"""Track deliveries: EventBridge Scheduler tick → poll the operator, sent → delivered or failed. Wiring only."""

from invoice_bridge import entrypoints, wiring
from invoice_bridge.observability import logger, metrics, tracer

wiring.check_settings("TrackDeliveriesFunction")  # a missing setting stops the cold start, named


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return entrypoints.track_deliveries()
