"""The console's pages, one router per area (each module's `router`)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from . import failures, integrations, invoices, issuers, overview, reports, sign_in

ROUTERS: list[Router] = [
    sign_in.router,
    overview.router,
    issuers.router,
    integrations.router,
    invoices.router,
    failures.router,
    reports.router,
]
