"""Render: RenderQueue → PDF + Peppol BIS 3.0 to S3 → DispatchQueue. Wiring only."""

from typing import Any

# Before anything imports pydantic: Powertools' batch utility then leaves out the parser models of the
# event sources we do not read (DynamoDB streams, Kinesis, Kafka): ~10 ms of the cold start.
import aws_lambda_powertools.utilities.batch  # noqa: F401
from invoice_bridge import entrypoints, wiring
from invoice_bridge.backoff import BatchWork
from invoice_bridge.handlers import batch_handler
from invoice_bridge.messages import RenderRecord

wiring.check_settings("RenderFunction")  # a missing setting stops the cold start, named


def start_batch(_context: Any, records: list[RenderRecord]) -> BatchWork:
    # One batch's invoices, issuers and logos read once; its dispatch messages sent together at its end.
    return entrypoints.render_batch(record.body for record in records)


lambda_handler = batch_handler(RenderRecord, start_batch)
