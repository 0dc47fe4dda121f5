"""The admin routers, in one explicit list. Each resource module defines `router`."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from . import approvals, failures, integrations, invoices, issuers, reports, sync

ROUTERS: list[Router] = [
    issuers.router,
    integrations.router,
    sync.router,
    invoices.router,
    approvals.router,
    reports.router,
    failures.router,
]
