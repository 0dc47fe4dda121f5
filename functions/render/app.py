"""Render: RenderQueue → PDF + Peppol BIS 3.0 to S3 → DispatchQueue. Wiring only."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from invoice_bridge import entrypoints
from invoice_bridge.messages import RenderRecord
from invoice_bridge.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS, model=RenderRecord)


def record_handler(record: RenderRecord) -> str:
    return entrypoints.render(record.body)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
