"""The public consent face: GET/HEAD/POST /consent/{token} and GET /oauth/callback, answering HTML.

Served by the ConsentFunction (functions/oauth_callback). Tokens, states and codes are never logged:
the paths and query strings of these routes carry secrets.
"""

from __future__ import annotations

import math

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from .. import wiring
from ..consent.flow import ConsentFlow, Redirect
from ..consent.pages import Page
from ..consent.services import ConsentServices
from ..observability import logger
from ..ports import StoreBusy
from .errors import on_exception

_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors 'none'"
    ),
}

_FAILURE_HTML = (
    "<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
    "<title>Fel / Error</title></head><body style='font-family:sans-serif;max-width:36rem;margin:2rem auto;"
    "padding:0 1rem'><h1>Något gick fel / Something went wrong</h1><p>Försök igen om en stund. / Please try "
    "again in a while.</p></body></html>"
)

_BUSY_HTML = (
    "<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
    "<title>Upptaget / Busy</title></head><body style='font-family:sans-serif;max-width:36rem;margin:2rem auto;"
    "padding:0 1rem'><h1>Upptaget just nu / Busy just now</h1><p>Inget gick förlorat. Ladda om sidan om en "
    "stund. / Nothing was lost. Reload the page in a moment.</p></body></html>"
)


def _html(page: Page, head_only: bool = False) -> Response[str]:
    return Response(
        status_code=page.status,
        content_type="text/html; charset=utf-8",
        body="" if head_only else page.html,
        headers=dict(_SECURITY_HEADERS),
    )


def build_consent_app(services: ConsentServices | None = None) -> APIGatewayRestResolver:
    """The resolver for the public routes; `services` default to `wiring.consent_services()` per request."""
    app = APIGatewayRestResolver()

    def flow() -> ConsentFlow:
        return ConsentFlow(services or wiring.consent_services())

    @app.route("/consent/<token>", method=["GET", "HEAD"])
    def show(token: str) -> Response[str]:
        page = flow().view(token)
        return _html(page, head_only=app.current_event.http_method == "HEAD")

    @app.post("/consent/<token>")
    def grant(token: str) -> Response[str]:
        outcome = flow().start(token)
        if isinstance(outcome, Redirect):
            return Response(
                status_code=303, body="", headers={**_SECURITY_HEADERS, "Location": outcome.location}
            )
        return _html(outcome)

    @app.get("/oauth/callback")
    def callback() -> Response[str]:
        params = app.current_event.query_string_parameters or {}
        page = flow().callback(state=params.get("state"), code=params.get("code"), error=params.get("error"))
        logger.info("oauth callback answered", extra={"page": page.kind, "status": page.status})
        return _html(page)

    @on_exception(app, StoreBusy)
    def _busy(exc: StoreBusy) -> Response[str]:
        # Nothing of the refused write was applied (the callback takes its state first): the same link
        # works in a moment. Not a 500, nor the error alarm.
        logger.warning("consent route busy", extra={"error": type(exc).__name__})
        headers = {**_SECURITY_HEADERS, "Retry-After": str(max(1, math.ceil(exc.retry_after_seconds)))}
        return Response(status_code=503, content_type="text/html; charset=utf-8", body=_BUSY_HTML, headers=headers)

    @on_exception(app, Exception)
    def _failure(exc: Exception) -> Response[str]:
        # Only the exception's type: messages of HTTP errors can carry URLs with secrets.
        logger.error("consent route failed", extra={"error": type(exc).__name__})
        return Response(
            status_code=500,
            content_type="text/html; charset=utf-8",
            body=_FAILURE_HTML,
            headers=dict(_SECURITY_HEADERS),
        )

    return app
