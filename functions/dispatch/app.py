"""Dispatch: DispatchQueue → operator / e-mail / print, at most once per invoice version. Wiring only."""

from collections.abc import Callable
from typing import Any

# Before anything imports pydantic: Powertools' batch utility then leaves out the parser models of the
# event sources we do not read (DynamoDB streams, Kinesis, Kafka): ~10 ms of the cold start.
import aws_lambda_powertools.utilities.batch  # noqa: F401
from invoice_bridge import entrypoints, wiring
from invoice_bridge.handlers import batch_handler
from invoice_bridge.messages import DispatchRecord

wiring.check_settings("DispatchFunction")  # a missing setting stops the cold start, named


def start_batch(_context: Any, records: list[DispatchRecord]) -> Callable[[DispatchRecord], str | None]:
    # One batch's invoices read together, its issuers and integrations each once.
    dispatch = entrypoints.dispatch_batch(record.body for record in records)
    return lambda record: dispatch(record.body)


# A failed record comes back after a growing backoff, not after the queue's visibility timeout.
lambda_handler = batch_handler(DispatchRecord, start_batch)
