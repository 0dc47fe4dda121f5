"""The only Logger, Tracer and Metrics of the service; everything imports them from here."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="invoice-bridge")
# Only what our functions call out with: X-Ray's patch_all would import and patch every library it
# knows (sqlite3, the database drivers, …) at each cold start. httpx is patched by the adapters that use
# it (`trace_httpx`), so the functions that make no HTTP call (render, the consent pages until the
# callback, the SES events) do not import httpx and its X-Ray patch at their cold start.
tracer = Tracer(service="invoice-bridge", patch_modules=("botocore",))
metrics = Metrics(namespace="InvoiceBridge", service="invoice-bridge")


def trace_httpx() -> None:
    """X-Ray subsegments for httpx calls; called by each adapter module that imports httpx (patching is
    per class and done once, so every client, made before or after, is traced)."""
    tracer.patch(("httpx",))
