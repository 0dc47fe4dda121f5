"""Dispatch: DispatchQueue → operator / e-mail / print, at most once per invoice version. Wiring only."""

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext
from invoice_bridge import entrypoints, wiring
from invoice_bridge.backoff import BackoffBatchProcessor
from invoice_bridge.messages import DispatchRecord
from invoice_bridge.observability import logger, metrics, tracer

wiring.check_settings("DispatchFunction")  # a missing setting stops the cold start, named

# A failed record comes back after a growing backoff, not after the queue's visibility timeout.
processor = BackoffBatchProcessor(
    DispatchRecord, schedule=wiring.retry_backoff_seconds, visibility=wiring.queue_visibility
)
_context: LambdaContext | None = None


def record_handler(record: DispatchRecord) -> str | None:
    return entrypoints.dispatch(record.body, lambda_context=_context)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    global _context
    _context = context
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
