"""The only Logger, Tracer and Metrics of the service; everything imports them from here."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="invoice-bridge")
tracer = Tracer(service="invoice-bridge")
metrics = Metrics(namespace="InvoiceBridge", service="invoice-bridge")
