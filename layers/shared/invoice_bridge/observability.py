"""The only Logger, Tracer and Metrics of the service; everything imports them from here."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="invoice-bridge")
# Only what our functions call out with: X-Ray's patch_all would import and patch every library it
# knows (sqlite3, the database drivers, …) at each cold start.
tracer = Tracer(service="invoice-bridge", patch_modules=("botocore", "httpx"))
metrics = Metrics(namespace="InvoiceBridge", service="invoice-bridge")
