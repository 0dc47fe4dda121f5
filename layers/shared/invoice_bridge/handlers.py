"""What the functions' handlers share (functions/*/app.py stay wiring only): Powertools around each
invocation (the logger's Lambda context, the tracer's segment, the metrics flushed as EMF), and for a
queue function the partial batch response with its backoff."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import wiring
from .observability import logger, metrics, tracer

if TYPE_CHECKING:  # the batch utility builds the parser's event models: the queue functions' import only
    from aws_lambda_powertools.utilities.parser.models import SqsRecordModel

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def observed(handler: Handler, *, cold_start_metric: bool = False) -> Handler:
    """`handler` inside the logger's Lambda context, the tracer's segment and the metrics' flush."""
    measured = metrics.log_metrics(handler, capture_cold_start_metric=cold_start_metric)
    traced: Handler = tracer.capture_lambda_handler(measured, capture_response=False)
    injected: Handler = logger.inject_lambda_context(traced)
    return injected


def tick_handler(run: Callable[[], dict[str, Any]], *, cold_start_metric: bool = False) -> Handler:
    """A scheduled function's handler: a tick carries no data (Scheduler sends the schedule's fixed
    input), so the event is not parsed."""

    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return run()

    return observed(lambda_handler, cold_start_metric=cold_start_metric)


def queue_handler(record_model: type[SqsRecordModel], record_handler: Callable[[Any], object]) -> Handler:
    """An SQS function's handler: each record parsed into `record_model` and handed to `record_handler`;
    a failed record comes back after a growing backoff, not after the queue's visibility timeout."""
    return batch_handler(record_model, lambda _context, _records: record_handler)


def batch_handler(
    record_model: type[SqsRecordModel], start_batch: Callable[[Any, list[Any]], Callable[[Any], object]]
) -> Handler:
    """`queue_handler` whose records share what their batch reads once: `start_batch(context, records)` is
    called at each invocation with the batch's records parsed into `record_model` (one that does not parse
    is left out: the processor fails it on its own) and returns the record handler of that batch; nothing
    it holds outlives it. A handler with a `finish` (backoff.BatchWork) finishes the batch after its last
    record."""
    from aws_lambda_powertools.utilities.batch import process_partial_response

    from .backoff import BackoffBatchProcessor

    # The messages' models are built at first use (messages.py); every invocation parses its records with
    # this one, so it is built now, at the cold start, with the rest of the init.
    record_model.model_rebuild()
    processor = BackoffBatchProcessor(
        record_model, schedule=wiring.retry_backoff_seconds, visibility=wiring.queue_visibility
    )

    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = _parsed(record_model, event.get("Records") or [])
        return dict(process_partial_response(
            event=event, record_handler=start_batch(context, records), processor=processor, context=context
        ))

    return observed(lambda_handler)


def _parsed(record_model: type[SqsRecordModel], raw_records: list[dict[str, Any]]) -> list[Any]:
    from pydantic import ValidationError

    records = []
    for raw in raw_records:
        try:
            records.append(record_model.model_validate(raw))
        except ValidationError:
            continue
    return records
