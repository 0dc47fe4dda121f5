"""Render: RenderQueue → PDF + Peppol BIS 3.0 to S3 → DispatchQueue. Wiring only."""

from invoice_bridge import entrypoints, wiring
from invoice_bridge.handlers import queue_handler
from invoice_bridge.messages import RenderRecord

wiring.check_settings("RenderFunction")  # a missing setting stops the cold start, named


def record_handler(record: RenderRecord) -> str:
    return entrypoints.render(record.body)


lambda_handler = queue_handler(RenderRecord, record_handler)
