"""SES events: SNS (SES bounce / complaint / delivery notifications) → e-mail delivery state. Wiring only."""

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import SnsModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from invoice_bridge import entrypoints, wiring
from invoice_bridge.observability import logger, metrics, tracer

wiring.check_settings("SesEventsFunction")  # a missing setting stops the cold start, named


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@event_parser(model=SnsModel)
def lambda_handler(event: SnsModel, context: LambdaContext) -> dict:
    # An exception fails the invocation; SNS retries it, and every move is conditional, so a repeat is safe.
    outcomes = [entrypoints.ses_notification(record.Sns.Message) for record in event.Records]
    return {"outcomes": outcomes}
