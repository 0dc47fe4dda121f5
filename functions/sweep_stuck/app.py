"""Sweep: EventBridge Scheduler tick → invoices whose send delay is over are handed to dispatch; invoices
stuck in queued, rendered or sending are handed on again (or failed with a notice). Wiring only."""

from invoice_bridge import entrypoints, wiring
from invoice_bridge.handlers import tick_handler

wiring.check_settings("SweepStuckFunction")  # a missing setting stops the cold start, named

lambda_handler = tick_handler(entrypoints.sweep_stuck)
