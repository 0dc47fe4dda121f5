"""Admin API (IAM-authenticated): the office's routes. Wiring only; routes live in invoice_bridge.api."""

from aws_lambda_powertools.logging import correlation_paths
from invoice_bridge import wiring
from invoice_bridge.api.admin import build_app
from invoice_bridge.observability import logger, metrics, tracer

wiring.check_settings("AdminApiFunction")  # a missing setting stops the cold start, named


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return build_app().resolve(event, context)
