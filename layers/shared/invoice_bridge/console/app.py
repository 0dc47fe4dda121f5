"""The console application: one resolver, a router per area, and the guard every route passes.

The guard (a Powertools middleware) is where the console's own authentication lives, since API Gateway
lets /console through without an authorizer: it resumes the session from its cookie (or sends the
browser to sign in), refuses a form whose CSRF token or Origin is not the session's, and refuses an
admin route to staff. Routes then find their `Ctx` in the resolver's context.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from .. import wiring
from ..api.errors import ApiError, on_exception
from ..observability import logger
from ..ports import NotFound, StoreBusy
from .pages import Ctx, language_of
from .sessions import Role, add_flash, resume_session, take_flashes
from .texts import texts
from .web import SESSION_COOKIE, BadRequest, WebRequest, html, redirect, tokens_match

Middleware = Callable[[Any, Callable[[Any], Response[Any]]], Response[Any]]


def ctx_of(router: Router) -> Ctx:
    ctx: Ctx = router.context["console"]
    return ctx


def _problem_page(ctx: Ctx, status: int, title_key: str, body: str) -> Response[str]:
    return ctx.render("problem.html", status, title=ctx.t[title_key], message=body)


def guard(role: Role | None) -> Middleware:
    """Middleware for a route open to `role` (None: anyone, e.g. the sign-in pages)."""

    def middleware(app: Any, next_middleware: Callable[[Any], Response[Any]]) -> Response[Any]:
        request = WebRequest.from_event(app.current_event)
        ctx = Ctx(request, None, language_of(request))
        app.append_context(console=ctx)
        if role is None:
            return next_middleware(app)
        policy = wiring.console_session_policy()
        store = wiring.console_sessions()
        now = datetime.now(UTC)
        session = resume_session(
            request.cookies.get(SESSION_COOKIE), store, wiring.console_users(), policy, now
        )
        if session is None:
            # A signed-out GET comes back here after sign-in; a signed-out form post starts over.
            next_url = request.here if request.method == "GET" else None
            return redirect(request.url("/console/sign-in", next=next_url))
        ctx.session = session
        if request.method == "POST" and not (
            request.same_origin() and tokens_match(request.form().get("csrf"), session.csrf_token)
        ):
            logger.warning("console form refused: CSRF", extra={"path": request.path})
            return _problem_page(ctx, 403, "forbidden_title", ctx.t["forbidden_csrf"])
        if role == "admin" and session.role != "admin":
            logger.info("console admin route refused", extra={"path": request.path, "role": session.role})
            return _problem_page(ctx, 403, "forbidden_title", ctx.t["forbidden_role"])
        if request.method == "GET":
            ctx.flashes = take_flashes(session, store, policy)
        response = next_middleware(app)
        for flash in ctx.pending:
            add_flash(session, flash, store, policy)
        return response

    return middleware


STAFF = guard("staff")
ADMIN = guard("admin")
PUBLIC = guard(None)


@cache
def build_console_app() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()
    from .views import ROUTERS  # the pages load with the app, not at import (cold start of other functions)

    for router in ROUTERS:
        app.include_router(router)

    def fallback_ctx() -> Ctx:
        context = app.context.get("console")
        if isinstance(context, Ctx):
            return context
        request = WebRequest.from_event(app.current_event)
        return Ctx(request, None, language_of(request))

    @on_exception(app, NotFound)
    def _not_found(_exc: NotFound) -> Response[str]:
        ctx = fallback_ctx()
        return _problem_page(ctx, 404, "not_found_title", ctx.t["not_found_body"])

    @on_exception(app, ApiError)
    def _refused(exc: ApiError) -> Response[str]:
        ctx = fallback_ctx()
        return _problem_page(ctx, exc.status, "bad_request_title", exc.message)

    @on_exception(app, BadRequest)
    def _bad_request(exc: BadRequest) -> Response[str]:
        ctx = fallback_ctx()
        return _problem_page(ctx, 400, "bad_request_title", str(exc))

    @on_exception(app, StoreBusy)
    def _busy(exc: StoreBusy) -> Response[str]:
        # A route that does not say it itself: nothing of the refused write was applied, so the same
        # request works in a moment. Not a 500 (nor the error alarm).
        ctx = fallback_ctx()
        response = _problem_page(ctx, 503, "busy_title", ctx.t["busy_body"])
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_seconds)))
        return response

    @app.not_found
    def _no_route(_exc: Exception) -> Response[str]:
        ctx = fallback_ctx()
        return _problem_page(ctx, 404, "not_found_title", ctx.t["not_found_body"])

    @on_exception(app, Exception)
    def _failure(exc: Exception) -> Response[str]:
        # Only the type: messages can carry form values or URLs.
        logger.exception("console route failed", extra={"error": type(exc).__name__})
        try:
            ctx = fallback_ctx()
            return _problem_page(ctx, 500, "error_title", ctx.t["error_body"])
        except Exception:  # noqa: BLE001 - the error page itself must not fail
            t = texts("sv")
            return html(f"<!doctype html><title>{t['error_title']}</title><p>{t['error_body']}</p>", 500)

    return app
