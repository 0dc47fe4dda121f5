"""Track deliveries: EventBridge Scheduler tick → poll the operator, sent → delivered or failed. Wiring only."""

from invoice_bridge import entrypoints, wiring
from invoice_bridge.handlers import tick_handler

wiring.check_settings("TrackDeliveriesFunction")  # a missing setting stops the cold start, named

lambda_handler = tick_handler(entrypoints.track_deliveries)
