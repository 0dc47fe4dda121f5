"""Consent pages and the OAuth callback (public). Wiring only; the flow lives in invoice_bridge.consent.

The event is not logged: these paths and query strings carry invitation tokens, states and codes.
"""

from functools import cache

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from invoice_bridge import wiring
from invoice_bridge.api.consent import build_consent_app
from invoice_bridge.observability import logger, metrics, tracer

wiring.check_settings("ConsentFunction")  # a missing setting stops the cold start, named


@cache
def _app() -> APIGatewayRestResolver:
    return build_consent_app()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return _app().resolve(event, context)
