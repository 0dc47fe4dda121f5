"""Sync: SyncQueue → fetch one integration's invoices from Spiris → RenderQueue. Wiring only."""

from aws_lambda_powertools.utilities.batch import process_partial_response
from invoice_bridge import entrypoints, wiring
from invoice_bridge.backoff import BackoffBatchProcessor
from invoice_bridge.messages import SyncRecord
from invoice_bridge.observability import logger, metrics, tracer

wiring.check_settings("SyncIntegrationFunction")  # a missing setting stops the cold start, named

# A failed record comes back after a growing backoff, not after the queue's visibility timeout.
processor = BackoffBatchProcessor(
    SyncRecord, schedule=wiring.retry_backoff_seconds, visibility=wiring.queue_visibility
)


def record_handler(record: SyncRecord) -> object:
    return entrypoints.sync(record.body)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
