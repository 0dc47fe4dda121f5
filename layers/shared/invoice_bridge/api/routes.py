"""The admin routers, in one list. Each resource module defines `router`."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

ROUTERS: list[APIGatewayRouter] = []

# Each resource module appends its router when it exists (owned by its capability):
#   issuers.py, integrations.py (consent), sync.py (fetch), invoices.py, reports.py, failures.py
for _name in ("issuers", "integrations", "sync", "invoices", "reports", "failures"):
    try:
        _module = __import__(f"{__package__}.{_name}", fromlist=["router"])
    except ModuleNotFoundError as exc:  # a capability not built yet
        if exc.name != f"{__package__}.{_name}":
            raise
        continue
    ROUTERS.append(_module.router)
