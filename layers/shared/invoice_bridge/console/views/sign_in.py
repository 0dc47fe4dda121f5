"""Sign-in and sign-out, the language switch and the console's own static files (all public)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from ... import wiring
from ...observability import logger
from ..app import PUBLIC, STAFF, ctx_of
from ..auth import PoolChallenge, SignInRefused
from ..pages import STATIC_TYPES, Ctx, static_files
from ..sessions import SignedInUser, end_session, open_session
from ..web import (
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    cookie,
    expired_cookie,
    redirect,
    safe_next,
    tokens_match,
)

router = Router()
_SIGN_IN_FORM_SECONDS = 30 * 60


def _form_page(ctx: Ctx, template: str, status: int = 200, **values: Any) -> Response[str]:
    """A sign-in step's page with a fresh form token (cookie + hidden field: login CSRF)."""
    token = secrets.token_urlsafe(24)
    page = {"error": None, "notice": None, "username": "", **values}
    response = ctx.render(template, status, form_token=token, next=_next(ctx), **page)
    response.cookies.append(cookie(SIGN_IN_COOKIE, token, max_age=_SIGN_IN_FORM_SECONDS))
    return response


def _next(ctx: Ctx) -> str:
    wanted = ctx.request.form().get("next") if ctx.request.method == "POST" else ctx.request.arg("next")
    return safe_next(wanted, ctx.request.prefix, ctx.url("/console"))


def _refused(ctx: Ctx, exc: SignInRefused, template: str = "sign_in.html", **values: object) -> Response[str]:
    message = ctx.t[f"refused_{exc.reason}"].format(detail=exc.detail)
    logger.info("console sign-in refused", extra={"reason": exc.reason})
    status = 429 if exc.reason == "throttled" else 401
    return _form_page(ctx, template, status, error=message, **values)


def _form_token_ok(ctx: Ctx) -> bool:
    request = ctx.request
    return request.same_origin() and tokens_match(
        request.form().get("form_token"), request.cookies.get(SIGN_IN_COOKIE, "")
    )


def _signed_in(ctx: Ctx, user: SignedInUser) -> Response[str]:
    policy = wiring.console_session_policy()
    cookie_value, _ = open_session(user, wiring.console_sessions(), policy, datetime.now(UTC))
    logger.info("console sign-in", extra={"sub": user.sub})
    return redirect(
        _next(ctx),
        cookies=[
            cookie(SESSION_COOKIE, cookie_value, max_age=int(policy.lifetime.total_seconds())),
            expired_cookie(SIGN_IN_COOKIE),
        ],
    )


def _challenge_page(ctx: Ctx, username: str, challenge: PoolChallenge) -> Response[str]:
    secret = None
    session = challenge.session
    if challenge.kind == "mfa_setup":
        secret, session = wiring.console_users().start_totp_setup(session)
    return _form_page(
        ctx, "sign_in_challenge.html", kind=challenge.kind, username=username, pool_session=session,
        secret=secret, otpauth=_otpauth(username, secret),
    )


def _otpauth(username: str, secret: str | None) -> str | None:
    """The key as an authenticator app's link (Key Uri Format)."""
    if not secret:
        return None
    label = quote("Invoice bridge")
    return f"otpauth://totp/{label}:{quote(username)}?secret={quote(secret)}&issuer={label}"


@router.get("/console/sign-in", middlewares=[PUBLIC])
def sign_in_page() -> Response[str]:
    ctx = ctx_of(router)
    notice = ctx.t["signed_out"] if ctx.request.arg("signed_out") else None
    return _form_page(ctx, "sign_in.html", notice=notice)


@router.post("/console/sign-in", middlewares=[PUBLIC])
def sign_in() -> Response[str]:
    ctx = ctx_of(router)
    form = ctx.request.form()
    if not _form_token_ok(ctx):
        return _form_page(ctx, "sign_in.html", 403, error=ctx.t["signin_form_expired"])
    username = form.get("username")
    flow = wiring.console_sign_in()
    try:
        outcome = flow.finish(flow.provider.password(username, form.fields.get("password", [""])[-1]))
        if isinstance(outcome, PoolChallenge):
            return _challenge_page(ctx, username, outcome)
    except SignInRefused as exc:
        return _refused(ctx, exc, username=username)
    return _signed_in(ctx, outcome)


@router.post("/console/sign-in/challenge", middlewares=[PUBLIC])
def answer_challenge() -> Response[str]:
    ctx = ctx_of(router)
    form = ctx.request.form()
    if not _form_token_ok(ctx):
        return _form_page(ctx, "sign_in.html", 403, error=ctx.t["signin_form_expired"])
    kind, username, session = form.get("kind"), form.get("username"), form.get("pool_session")
    flow = wiring.console_sign_in()
    provider = flow.provider
    try:
        if kind == "new_password":
            answer = provider.new_password(username, session, form.fields.get("new_password", [""])[-1])
        elif kind == "mfa_setup":
            answer = provider.finish_totp_setup(username, session, form.get("code"))
        elif kind == "mfa_code":
            answer = provider.totp_code(username, session, form.get("code"))
        else:
            return _form_page(ctx, "sign_in.html", 400, error=ctx.t["signin_form_expired"])
        outcome = flow.finish(answer)
        if isinstance(outcome, PoolChallenge):
            return _challenge_page(ctx, username, outcome)
    except SignInRefused as exc:
        if exc.reason in ("wrong_code", "weak_password"):  # the same step again, with its key if any
            secret = form.get("secret") if kind == "mfa_setup" else None
            return _refused(ctx, exc, "sign_in_challenge.html", kind=kind, username=username,
                            pool_session=session, secret=secret, otpauth=_otpauth(username, secret))
        return _refused(ctx, exc, username=username)
    return _signed_in(ctx, outcome)


@router.post("/console/sign-out", middlewares=[STAFF])
def sign_out() -> Response[str]:
    ctx = ctx_of(router)
    end_session(ctx.request.cookies.get(SESSION_COOKIE), wiring.console_sessions())
    return redirect(ctx.url("/console/sign-in", signed_out="1"), cookies=[expired_cookie(SESSION_COOKIE)])


@router.get("/console/language/<language>", middlewares=[PUBLIC])
def switch_language(language: str) -> Response[str]:
    ctx = ctx_of(router)
    chosen = language if language in ("sv", "en") else "sv"
    target = safe_next(ctx.request.arg("next"), ctx.request.prefix, ctx.url("/console"))
    return redirect(target, cookies=[cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 24 * 3600)])


@router.get("/console/static/<name>")
def static(name: str) -> Response[str]:
    found = static_files().get(name)
    if found is None:
        from ...ports import NotFound

        raise NotFound(name)
    content_type = STATIC_TYPES["." + name.rsplit(".", 1)[-1]]
    return Response(
        status_code=200,
        content_type=content_type,
        body=found[0],
        headers={"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"},
    )
