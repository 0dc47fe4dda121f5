"""API Gateway stand-in: HTTP → REST API proxy event (payload 1.0) → the function's handler → HTTP.

Routes are the template's `Api` events. Routes whose auth is AWS_IAM need `Authorization: Bearer
{admin_token}` (standing in for SigV4), checked before the handler is called, as API Gateway does.
A route behind another authorizer is refused at start: it has no stand-in, and serving it unchecked
would be kinder than AWS. (The console's routes have none: it checks its own session.)
Local-only routes live under `/_local/`.
"""

from __future__ import annotations

import base64
import email
import email.policy
import hmac
import json
import logging
import re
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from .aws import ACCOUNT_ID, LOCAL_API_ID
from .lambdas import Handlers
from .template import Template

log = logging.getLogger("sandbox.gateway")

STAGE = "Prod"
DEFAULT_BINARY_TYPES = ("image/png", "image/jpeg")


@dataclass(frozen=True)
class Route:
    function: str
    resource: str  # the path template, e.g. /issuers/{id}
    method: str
    auth: str | None
    pattern: re.Pattern[str]
    specificity: tuple[int, int, int]


def _compile(resource: str) -> tuple[re.Pattern[str], tuple[int, int, int]]:
    parts = [p for p in resource.strip("/").split("/") if p]
    regex, literal, params, greedy = "", 0, 0, 0
    for part in parts:
        m = re.fullmatch(r"\{([^}+]+)(\+?)\}", part)
        if m and m.group(2):
            regex += f"/(?P<{m.group(1)}>.+)"
            greedy += 1
        elif m:
            regex += f"/(?P<{m.group(1)}>[^/]+)"
            params += 1
        else:
            regex += "/" + re.escape(part)
            literal += 1
    # API Gateway prefers literal segments, then single parameters, then greedy {proxy+}.
    return re.compile("^" + (regex or "/") + "/?$"), (greedy, -literal, params)


def routes_of(template: Template) -> list[Route]:
    routes = []
    for fn in template.functions.values():
        for ev in fn.api_events:
            pattern, specificity = _compile(ev.path)
            routes.append(Route(fn.logical_id, ev.path, ev.method, ev.auth, pattern, specificity))
    return sorted(routes, key=lambda r: (r.specificity, r.method == "ANY"))


def error_body(code: str, message: str, details: list[Any] | None = None) -> str:
    return json.dumps({"error": {"code": code, "message": message, "details": details or []}})


class Gateway:
    def __init__(
        self,
        template: Template,
        handlers: Handlers,
        admin_token: str,
        aws_endpoint_url: str,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.template = template
        self.handlers = handlers
        self.admin_token = admin_token
        self.aws_endpoint_url = aws_endpoint_url
        self.routes = routes_of(template)
        # Only IAM has a stand-in here: a route behind any other authorizer (Cognito, Lambda) would
        # otherwise be served with no check at all.
        for route in self.routes:
            if route.auth not in (None, "AWS_IAM"):
                raise ValueError(
                    f"{route.method} {route.resource}: authorizer {route.auth!r} has no stand-in in the embedded gateway"
                )
        self.binary_types = tuple(sorted(set(template.binary_media_types) | set(DEFAULT_BINARY_TYPES)))
        self._server: BaseWSGIServer = make_server(host, port, self.wsgi, threaded=True)
        self._thread: threading.Thread | None = None
        self.url = f"http://{host}:{self._server.server_port}"

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> str:
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    # --- WSGI ----------------------------------------------------------------------------------

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            response = self.handle(request)
        except Exception:  # the handler crashed: API Gateway answers 502 and logs
            log.exception("handler failed for %s %s", request.method, request.path)
            response = Response(
                json.dumps({"message": "Internal server error"}), status=502, content_type="application/json"
            )
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/_local/"):
            return self._local(request)
        method = request.method.upper()
        route, params = self.match(method if method != "HEAD" else "GET", path)
        if route is None and method == "HEAD":
            route, params = self.match("HEAD", path)
        if route is None:
            allowed = any(r.pattern.match(path) for r in self.routes)
            if allowed:
                return _json(405, error_body("method_not_allowed", f"{method} is not allowed on {path}"))
            return _json(404, error_body("not_found", f"no route for {method} {path}"))
        if route.auth == "AWS_IAM":
            denied = self._check_bearer(request)
            if denied is not None:
                return denied
        event = self.build_event(request, route, params, method="GET" if method == "HEAD" else method)
        result = self.handlers.invoke(route.function, event)
        response = self.to_response(result)
        if method == "HEAD":
            response.set_data(b"")
        return response

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in self.routes:
            if route.method not in (method, "ANY"):
                continue
            m = route.pattern.match(path)
            if m:
                return route, m.groupdict()
        return None, {}

    def _check_bearer(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization")
        if not header:
            return _json(401, error_body("unauthorized", "missing Authorization header"))
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self.admin_token.encode()
        ):
            return _json(403, error_body("forbidden", "the credential is not valid for this API"))
        return None

    # --- event and response --------------------------------------------------------------------

    def build_event(
        self, request: Request, route: Route, params: dict[str, str], method: str
    ) -> dict[str, Any]:
        raw = request.get_data(cache=False)
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        is_binary = bool(raw) and (content_type in self.binary_types or not _is_utf8(raw))
        body: str | None
        if not raw:
            body = None
        elif is_binary:
            body = base64.b64encode(raw).decode("ascii")
        else:
            body = raw.decode("utf-8")

        multi_headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            multi_headers.setdefault(_canonical(name), []).append(value)
        multi_headers.setdefault("Host", [request.host])
        multi_headers.setdefault("X-Forwarded-For", [request.remote_addr or "127.0.0.1"])
        multi_headers.setdefault("X-Forwarded-Proto", [request.scheme])
        multi_headers.setdefault("X-Forwarded-Port", [str(request.environ.get("SERVER_PORT", ""))])
        headers = {k: v[-1] for k, v in multi_headers.items()}
        multi_query = {k: request.args.getlist(k) for k in request.args}
        now = time.time()
        source_ip = request.remote_addr or "127.0.0.1"
        request_id = str(uuid.uuid4())
        return {
            "resource": route.resource,
            "path": request.path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, route.resource).hex[:6],
                "resourcePath": route.resource,
                "httpMethod": method,
                "extendedRequestId": request_id,
                "requestTime": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": request.path,
                "accountId": ACCOUNT_ID,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "stage": STAGE,
                "domainPrefix": LOCAL_API_ID,
                "requestTimeEpoch": int(now * 1000),
                "requestId": request_id,
                "identity": {
                    "cognitoIdentityPoolId": None,
                    "accountId": None,
                    "cognitoIdentityId": None,
                    "caller": None,
                    "sourceIp": source_ip,
                    "principalOrgId": None,
                    "accessKey": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                    "userArn": None,
                    "userAgent": request.headers.get("User-Agent"),
                    "user": None,
                },
                "domainName": request.host,
                "apiId": LOCAL_API_ID,
            },
            "body": body,
            "isBase64Encoded": is_binary,
        }

    def to_response(self, result: Any) -> Response:
        if not isinstance(result, dict) or "statusCode" not in result:
            log.error("handler returned a malformed proxy response: %r", type(result))
            return _json(502, json.dumps({"message": "Internal server error"}))
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
        response = Response(data, status=int(result["statusCode"]))
        response.headers.clear()
        multi = {k.lower(): (k, list(v)) for k, v in (result.get("multiValueHeaders") or {}).items()}
        for name, value in (result.get("headers") or {}).items():
            if name.lower() not in multi:
                multi[name.lower()] = (name, [value])
        for name, values in multi.values():
            for value in values:
                response.headers.add(name, str(value))
        if "content-type" not in multi:
            response.headers["Content-Type"] = "application/json"
        return response

    # --- local-only routes ---------------------------------------------------------------------

    def _local(self, request: Request) -> Response:
        if request.path.rstrip("/") == "/_local/mail" and request.method in ("GET", "HEAD"):
            return _json(200, json.dumps(sent_mail(self.aws_endpoint_url)))
        return _json(404, error_body("not_found", f"no local route {request.method} {request.path}"))


# --- mail sent through SES (read back from moto) ------------------------------------------------


def sent_mail(aws_endpoint_url: str) -> list[dict[str, Any]]:
    """Every mail moto's SES accepted: `to`, `subject`, `text`, `html`, `attachments` (file names)."""
    with urllib.request.urlopen(f"{aws_endpoint_url}/moto-api/data.json", timeout=10) as resp:  # noqa: S310
        ses = json.load(resp).get("ses", {})
    mails: list[dict[str, Any]] = []
    for msg in ses.get("Message", []):
        dest = msg.get("destinations") or {}
        body = msg.get("body") or ""
        looks_html = bool(re.search(r"<(html|body|p|div|table|br|a|h\d)\b", body, re.I))
        mails.append(
            {
                "id": msg.get("id"),
                "from": msg.get("source"),
                "to": list(dest.get("ToAddresses", [])),
                "cc": list(dest.get("CcAddresses", [])),
                "subject": msg.get("subject"),
                "text": None if looks_html else body,
                "html": body if looks_html else None,
                "attachments": [],
            }
        )
    for msg in ses.get("RawMessage", []):
        mails.append(_parse_raw(msg))
    return mails


def _parse_raw(msg: dict[str, Any]) -> dict[str, Any]:
    parsed = email.message_from_string(msg.get("raw_data") or "", policy=email.policy.default)
    text = html = None
    attachments: list[str] = []
    for part in parsed.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if filename or part.get_content_disposition() == "attachment":
            attachments.append(filename or "")
        elif part.get_content_type() == "text/plain" and text is None:
            text = part.get_content()
        elif part.get_content_type() == "text/html" and html is None:
            html = part.get_content()
    to = list(dict.fromkeys(msg.get("destinations") or []))
    return {
        "id": msg.get("id"),
        "from": msg.get("source") or parsed.get("From"),
        "to": to,
        "cc": [],
        "subject": str(parsed.get("Subject") or ""),
        "text": text,
        "html": html,
        "attachments": attachments,
    }


def _json(status: int, body: str) -> Response:
    return Response(body, status=status, content_type="application/json")


def _canonical(name: str) -> str:
    return "-".join(p[:1].upper() + p[1:] for p in name.split("-"))


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
