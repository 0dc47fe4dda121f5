"""The identity server (Duende IdentityServer as Visma Online runs it): authorize pages, token, revocation.

The authorize trip is login → company picker → consent. State between the steps lives server-side,
referenced by a hidden `session` form field, so plain form POSTs and a browser both work.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from urllib.parse import urlencode, urlsplit

import jwt
from flask import Blueprint, Response, redirect, render_template_string, request
from werkzeug.wrappers import Response as BaseResponse

from .jsonutil import json_response
from .state import AuthorizationCode, AuthorizeSession, RefreshToken, SandboxState, TokenFamily, new_id

SESSION_LIFETIME_SECONDS = 1800

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} - Spiris sandbox</title>
<style>body{font-family:sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}
label{display:block;margin:.6rem 0 .2rem}input[type=email],input[type=password]{width:100%;padding:.4rem}
button{margin:.8rem .4rem 0 0;padding:.5rem 1rem}.error{color:#a00}</style></head>
<body><p><strong>Spiris</strong> Bokföring &amp; Fakturering (sandbox)</p><h1>{{ title }}</h1>
{{ body|safe }}</body></html>"""

LOGIN = """{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="{{ action }}">
<input type="hidden" name="session" value="{{ session }}">
<label for="email">Email</label><input id="email" name="email" type="email" value="{{ email }}" required>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button type="submit" name="action" value="login">Log in</button>
</form>"""

PICKER = """<p>Signed in as {{ email }}. Choose the company to connect.</p>
{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="{{ action }}">
<input type="hidden" name="session" value="{{ session }}">
<fieldset><legend>Companies</legend>
{% for company in companies %}
<div><input type="radio" id="company-{{ loop.index }}" name="company" value="{{ company.id }}"
{% if loop.first %}checked{% endif %}>
<label for="company-{{ loop.index }}" style="display:inline">{{ company.name }}
({{ company.corporate_identity_number }})</label></div>
{% endfor %}
</fieldset>
<button type="submit" name="action" value="select">Continue</button>
</form>"""

CONSENT = """<p><strong>{{ client_name }}</strong> asks for access to the company
<strong>{{ company.name }}</strong> ({{ company.corporate_identity_number }}) on behalf of {{ email }}.</p>
<p>Requested access:</p><ul>{% for scope in scopes %}<li>{{ scope }}</li>{% endfor %}</ul>
<form method="post" action="{{ action }}">
<input type="hidden" name="session" value="{{ session }}">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>"""

ERROR = """<p class="error" role="alert">{{ message }}</p>"""


def _page(title: str, body_template: str, status: int = 200, **context: object) -> Response:
    body = render_template_string(body_template, **context)
    return Response(render_template_string(PAGE, title=title, body=body), status=status, mimetype="text/html")


def _valid_redirect(registered: list[str] | None, redirect_uri: str) -> bool:
    if registered is None:
        parts = urlsplit(redirect_uri)
        return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment
    return redirect_uri in registered


def _with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def pkce_matches(challenge: str, method: str | None, verifier: str) -> bool:
    if (method or "plain") == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    else:
        computed = verifier
    return hmac.compare_digest(computed, challenge)


def identity_blueprint(state: SandboxState) -> Blueprint:
    bp = Blueprint("spiris_identity", __name__)
    config = state.config

    def issuer() -> str:
        return config.issuer or request.url_root.rstrip("/")

    # --- authorize --------------------------------------------------------------------------------

    def load_session() -> tuple[str, AuthorizeSession] | None:
        sid = request.form.get("session", "")
        with state.lock:
            session = state.sessions.get(sid)
            if session is None or session.finished or time.time() - session.created > SESSION_LIFETIME_SECONDS:
                return None
            return sid, session

    def expired_session_page() -> BaseResponse:
        return _page("Sign-in expired", ERROR, 400, message="This sign-in has expired. Start again from the app.")

    def redirect_back(session: AuthorizeSession, params: dict[str, str]) -> BaseResponse:
        if session.params.get("state"):
            params["state"] = session.params["state"]
        params["iss"] = issuer()
        session.finished = True
        return redirect(_with_query(session.params["redirect_uri"], params), code=302)

    def picker_or_consent(sid: str, session: AuthorizeSession) -> BaseResponse:
        user = state.users[session.user_email or ""]
        prompt = session.params.get("prompt", "").split()
        if user.default_company and "select_account" not in prompt and user.default_company in user.companies:
            # The default-company trap: Visma Online uses the user's default company without asking.
            session.company_id = user.default_company
            return consent_page(sid, session)
        companies = [state.companies[cid] for cid in user.companies if cid in state.companies]
        return _page("Choose company", PICKER, session=sid, email=user.email, companies=companies,
                     action="/connect/authorize/company", error=None)

    def consent_page(sid: str, session: AuthorizeSession) -> BaseResponse:
        client = state.clients[session.params["client_id"]]
        company = state.companies[session.company_id or ""]
        return _page("Allow access", CONSENT, session=sid, client_name=client.name, company=company,
                     email=session.user_email, scopes=session.params["scope"].split(),
                     action="/connect/authorize/consent")

    @bp.get("/connect/authorize")
    def authorize() -> BaseResponse:
        args = request.args
        client = state.clients.get(args.get("client_id", ""))
        redirect_uri = args.get("redirect_uri", "")
        if client is None:
            return _page("Unknown client", ERROR, 400, message="unauthorized_client: unknown client_id")
        if not redirect_uri or not _valid_redirect(client.redirect_uris, redirect_uri):
            return _page("Invalid redirect", ERROR, 400, message="invalid_request: redirect_uri is not registered")
        back = {"state": args["state"]} if args.get("state") else {}
        back["iss"] = issuer()
        if args.get("response_type") != "code":
            return redirect(_with_query(redirect_uri, {"error": "unsupported_response_type", **back}), code=302)
        if "ea:api" not in args.get("scope", "").split():
            return redirect(_with_query(redirect_uri, {"error": "invalid_scope", **back}), code=302)
        method = args.get("code_challenge_method")
        if args.get("code_challenge") and (method or "plain") not in ("plain", "S256"):
            return redirect(_with_query(redirect_uri, {"error": "invalid_request", **back}), code=302)
        sid = secrets.token_urlsafe(24)
        with state.lock:
            state.sessions[sid] = AuthorizeSession(params=dict(args.items()), created=time.time())
        return _page("Log in", LOGIN, session=sid, email="", error=None, action="/connect/authorize/login")

    @bp.post("/connect/authorize/login")
    def login() -> BaseResponse:
        loaded = load_session()
        if loaded is None:
            return expired_session_page()
        sid, session = loaded
        email = request.form.get("email", "").strip().lower()
        password = request.form.get("password", "")
        with state.lock:
            user = state.users.get(email)
            if user is None or not hmac.compare_digest(user.password.encode(), password.encode()):
                return _page("Log in", LOGIN, 401, session=sid, email=email, error="Wrong email or password.",
                             action="/connect/authorize/login")
            session.user_email = email
            return picker_or_consent(sid, session)

    @bp.post("/connect/authorize/company")
    def choose_company() -> BaseResponse:
        loaded = load_session()
        if loaded is None:
            return expired_session_page()
        sid, session = loaded
        with state.lock:
            user = state.users.get(session.user_email or "")
            if user is None:
                return expired_session_page()
            company_id = request.form.get("company", "")
            if company_id not in user.companies or company_id not in state.companies:
                companies = [state.companies[cid] for cid in user.companies if cid in state.companies]
                return _page("Choose company", PICKER, 400, session=sid, email=user.email, companies=companies,
                             action="/connect/authorize/company", error="Choose one of your companies.")
            session.company_id = company_id
            return consent_page(sid, session)

    @bp.post("/connect/authorize/consent")
    def consent() -> BaseResponse:
        loaded = load_session()
        if loaded is None:
            return expired_session_page()
        _sid, session = loaded
        with state.lock:
            if session.user_email is None or session.company_id is None:
                return expired_session_page()
            if request.form.get("decision") != "approve":
                return redirect_back(session, {"error": "access_denied"})
            code = secrets.token_urlsafe(32)
            state.codes[code] = AuthorizationCode(
                client_id=session.params["client_id"],
                redirect_uri=session.params["redirect_uri"],
                scopes=session.params["scope"].split(),
                user_email=session.user_email,
                company_id=session.company_id,
                code_challenge=session.params.get("code_challenge") or None,
                code_challenge_method=session.params.get("code_challenge_method") or None,
                expires=time.time() + config.code_lifetime_seconds,
                auth_time=int(time.time()),
            )
            return redirect_back(session, {"code": code})

    # --- token --------------------------------------------------------------------------------------

    def authenticate_client() -> str | None:
        header = request.headers.get("Authorization", "")
        client_id = secret = None
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip()).decode()
                client_id, _, secret = decoded.partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            from urllib.parse import unquote_plus

            client_id, secret = unquote_plus(client_id), unquote_plus(secret)
        elif request.form.get("client_id"):
            client_id, secret = request.form.get("client_id"), request.form.get("client_secret", "")
        client = state.clients.get(client_id or "")
        if client is None or not hmac.compare_digest(client.client_secret.encode(), (secret or "").encode()):
            return None
        return client.client_id

    def oauth_error(error: str, status: int = 400) -> BaseResponse:
        return json_response({"error": error}, status, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def issue_tokens(family: TokenFamily, refresh_token: str | None) -> BaseResponse:
        now = int(time.time())
        user = state.users[family.user_email]
        claims = {
            "iss": issuer(),
            "nbf": now,
            "iat": now,
            "exp": now + config.access_token_lifetime_seconds,
            "aud": f"{issuer()}/resources",
            "client_id": family.client_id,
            "sub": user.sub,
            "auth_time": family.auth_time,
            "idp": "local",
            "customer_id": family.company_id,
            "email": user.email,
            "scope": family.scopes,
            "amr": ["pwd"],
            "jti": f"{family.id}.{secrets.token_hex(8)}",
        }
        access_token = jwt.encode(claims, config.jwt_secret, algorithm="HS256")
        with state.lock:
            state.issued_access_tokens.add(str(claims["jti"]))
        body: dict[str, object] = {
            "access_token": access_token,
            "expires_in": config.access_token_lifetime_seconds,
            "token_type": "Bearer",
            "scope": " ".join(family.scopes),
        }
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
        return json_response(body, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def new_refresh_token(family: TokenFamily) -> str | None:
        if "offline_access" not in family.scopes:
            return None
        token = secrets.token_hex(32).upper()
        state.refresh_tokens[token] = RefreshToken(family_id=family.id)
        return token

    def revoke_family(family_id: str) -> None:
        family = state.families.get(family_id)
        if family is not None:
            family.revoked = True

    @bp.post("/connect/token")
    def token() -> BaseResponse:
        client_id = authenticate_client()
        if client_id is None:
            return oauth_error("invalid_client", 401)
        grant_type = request.form.get("grant_type")
        with state.lock:
            if grant_type == "authorization_code":
                return exchange_code(client_id)
            if grant_type == "refresh_token":
                return refresh(client_id)
        return oauth_error("unsupported_grant_type")

    def exchange_code(client_id: str) -> BaseResponse:
        code_value = request.form.get("code", "")
        code = state.codes.get(code_value)
        if code is None or code.client_id != client_id:
            return oauth_error("invalid_grant")
        if code.used:
            # Replay: the code was stolen or resent; everything issued from it goes.
            for family_id in code.families:
                revoke_family(family_id)
            return oauth_error("invalid_grant")
        code.used = True
        if time.time() > code.expires:
            return oauth_error("invalid_grant")
        if request.form.get("redirect_uri", "") != code.redirect_uri:
            return oauth_error("invalid_grant")
        if code.code_challenge:
            verifier = request.form.get("code_verifier", "")
            if not verifier or not pkce_matches(code.code_challenge, code.code_challenge_method, verifier):
                return oauth_error("invalid_grant")
        family = TokenFamily(id=new_id(), client_id=client_id, user_email=code.user_email,
                             company_id=code.company_id, scopes=code.scopes, auth_time=code.auth_time)
        state.families[family.id] = family
        code.families.append(family.id)
        return issue_tokens(family, new_refresh_token(family))

    def refresh(client_id: str) -> BaseResponse:
        presented = request.form.get("refresh_token", "")
        record = state.refresh_tokens.get(presented)
        if record is None:
            return oauth_error("invalid_grant")
        family = state.families[record.family_id]
        if family.client_id != client_id:
            return oauth_error("invalid_grant")
        if record.consumed:
            # A rotated-out token came back: treat the family as compromised (Duende/OAuth BCP).
            # Every such presentation counts, also after the family is already gone.
            state.refresh_token_reuse += 1
            revoke_family(family.id)
            return oauth_error("invalid_grant")
        if family.revoked:
            return oauth_error("invalid_grant")
        user = state.users.get(family.user_email)
        if user is None or family.company_id not in user.companies:
            return oauth_error("invalid_grant")
        if config.refresh_token_mode == "reusable":
            return issue_tokens(family, presented)
        record.consumed = True
        return issue_tokens(family, new_refresh_token(family))

    @bp.post("/connect/revocation")
    def revocation() -> BaseResponse:
        client_id = authenticate_client()
        if client_id is None:
            return oauth_error("invalid_client", 401)
        presented = request.form.get("token", "")
        with state.lock:
            record = state.refresh_tokens.get(presented)
            if record is not None and state.families[record.family_id].client_id == client_id:
                revoke_family(record.family_id)
            else:
                try:
                    claims = jwt.decode(presented, config.jwt_secret, algorithms=["HS256"],
                                        options={"verify_aud": False, "verify_exp": False})
                    family_id = str(claims.get("jti", "")).split(".")[0]
                    if claims.get("client_id") == client_id:
                        revoke_family(family_id)
                except jwt.PyJWTError:
                    pass  # RFC 7009: unknown tokens are not an error
        return Response(b"", status=200)

    @bp.get("/.well-known/openid-configuration")
    def discovery() -> BaseResponse:
        base = issuer()
        return json_response({
            "issuer": base,
            "authorization_endpoint": f"{base}/connect/authorize",
            "token_endpoint": f"{base}/connect/token",
            "revocation_endpoint": f"{base}/connect/revocation",
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["plain", "S256"],
            "prompt_values_supported": ["none", "login", "consent", "select_account"],
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "authorization_response_iss_parameter_supported": True,
        })

    return bp
