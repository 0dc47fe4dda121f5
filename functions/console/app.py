"""The office's console (HTML under /console). Wiring only; pages and the session check live in
invoice_bridge.console.

The event is not logged: sign-in forms carry passwords and the session cookie is a credential.
"""

from aws_lambda_powertools.logging import correlation_paths
from invoice_bridge import wiring
from invoice_bridge.console.app import build_console_app
from invoice_bridge.observability import logger, metrics, tracer

wiring.check_settings("ConsoleFunction")  # a missing setting stops the cold start, named


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return build_console_app().resolve(event, context)
