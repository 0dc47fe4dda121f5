"""Sync: SyncQueue → fetch one integration's invoices from Spiris → RenderQueue. Wiring only."""

# Before anything imports pydantic: Powertools' batch utility then leaves out the parser models of the
# event sources we do not read (DynamoDB streams, Kinesis, Kafka): ~10 ms of the cold start.
import aws_lambda_powertools.utilities.batch  # noqa: F401
from invoice_bridge import entrypoints, wiring
from invoice_bridge.handlers import queue_handler
from invoice_bridge.messages import SyncRecord

wiring.check_settings("SyncIntegrationFunction")  # a missing setting stops the cold start, named


def record_handler(record: SyncRecord) -> object:
    return entrypoints.sync(record.body)


lambda_handler = queue_handler(SyncRecord, record_handler)
