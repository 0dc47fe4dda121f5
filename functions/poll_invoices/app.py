"""Poll: EventBridge Scheduler tick → one SyncQueue message per due integration. Wiring only."""

from invoice_bridge import entrypoints, wiring
from invoice_bridge.handlers import tick_handler

wiring.check_settings("PollInvoicesFunction")  # a missing setting stops the cold start, named

lambda_handler = tick_handler(lambda: {"enqueued": len(entrypoints.poll_due_integrations())}, cold_start_metric=True)
