"""The console's HTTP plumbing: the request as the pages read it (cookies, form fields and files, the
path prefix of the API stage) and HTML answers with the headers every page sends.

Security headers: a strict Content-Security-Policy (scripts and styles only from the console itself,
no inline script or style; images and frames from the console and, per page, the origin of the
short-lived document links it embeds), no caching, no framing, no referrer beyond the origin.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

SESSION_COOKIE = "__Host-ib-console"
SIGN_IN_COOKIE = "__Host-ib-sign-in"  # the sign-in form's CSRF token, before a session exists
LANGUAGE_COOKIE = "__Host-ib-lang"
MAX_FORM_BYTES = 2 * 1024 * 1024  # a logo (1 MB) and its form around it


class BadRequest(Exception):
    """The request cannot be read (a malformed form or body): a 400 page."""


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Form:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[-1].strip() if values else default

    def all(self, name: str) -> list[str]:
        return [v for v in self.fields.get(name, []) if v]

    def flag(self, name: str) -> bool:
        """A checkbox: present and not "false"/"0" (a hidden "false" may come before the box's value)."""
        return self.get(name, "false").lower() not in ("false", "0", "")


@dataclass
class WebRequest:
    method: str
    path: str  # the resource path, e.g. /console/invoices
    prefix: str  # the stage or base path in front of it in the browser's URL ("/v1"; "" locally)
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    cookies: dict[str, str]
    body: bytes
    _form: Form | None = None

    @classmethod
    def from_event(cls, event: APIGatewayProxyEvent) -> WebRequest:
        path = event.path or "/"
        full = event.request_context.path or path
        prefix = full[: -len(path)] if full.endswith(path) and full != path else ""
        headers = {k.lower(): v for k, v in (event.headers or {}).items()}
        raw = event.body or ""
        body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode("utf-8")
        query = {k: list(v) for k, v in (event.multi_value_query_string_parameters or {}).items()}
        return cls(event.http_method.upper(), path, prefix, query, headers, _cookies(headers), body)

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1].strip() if values else default

    def url(self, path: str, **query: str | None) -> str:
        """A URL of the console as the browser sees it (with the stage prefix); empty query values dropped."""
        kept = {k.rstrip("_"): v for k, v in query.items() if v}
        return self.prefix + path + (("?" + urlencode(kept)) if kept else "")

    @property
    def here(self) -> str:
        """This request's own URL (for "next" after sign-in and for pagination)."""
        flat = [(k, v) for k, values in self.query.items() for v in values]
        return self.prefix + self.path + (("?" + urlencode(flat)) if flat else "")

    def form(self) -> Form:
        if self._form is None:
            self._form = _parse_form(self.headers.get("content-type", ""), self.body)
        return self._form

    def same_origin(self) -> bool:
        """A form post from our own pages: Origin (or Referer) names this host. Browsers send Origin on
        every cross-site POST, so a missing header means a same-site navigation or a non-browser."""
        origin = self.headers.get("origin") or self.headers.get("referer")
        if not origin or origin == "null":
            return origin is None
        return urlsplit(origin).netloc == self.headers.get("host", "")


def _cookies(headers: dict[str, str]) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _parse_form(content_type: str, body: bytes) -> Form:
    if len(body) > MAX_FORM_BYTES:
        raise BadRequest("the form is too large")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded" or not body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("the form is not UTF-8") from None
        return Form(fields=parse_qs(text, keep_blank_values=True))
    if media_type == "multipart/form-data":
        return _parse_multipart(content_type, body)
    raise BadRequest(f"a form cannot be sent as {media_type}")


def _parse_multipart(content_type: str, body: bytes) -> Form:
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import FormParser, parse_options_header

    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadRequest("the multipart form has no boundary")
    form = Form()

    def on_field(part: Any) -> None:
        name = part.field_name.decode("utf-8", "replace")
        form.fields.setdefault(name, []).append((part.value or b"").decode("utf-8", "replace"))

    def on_file(part: Any) -> None:
        part.file_object.seek(0)
        data = part.file_object.read()
        if not data and not part.file_name:
            return  # a file input left empty
        name = part.field_name.decode("utf-8", "replace")
        filename = (part.file_name or b"").decode("utf-8", "replace")
        # The part's own Content-Type is not kept by the parser; the bytes themselves are checked later.
        form.files[name] = UploadedFile(filename, _guess_image_type(data), data)

    parser = FormParser(
        "multipart/form-data", on_field, on_file, boundary=boundary,
        config={"MAX_MEMORY_FILE_SIZE": MAX_FORM_BYTES, "MAX_BODY_SIZE": MAX_FORM_BYTES},
    )
    try:
        parser.write(body)
        parser.finalize()
    except FormParserError as exc:
        raise BadRequest("the multipart form cannot be read") from exc
    return form


def _guess_image_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return "application/octet-stream"


def safe_next(value: str, prefix: str, default: str) -> str:
    """Where to go after sign-in: only a path of this console, never another site (open redirect)."""
    console = prefix + "/console"
    if value.startswith(console) and not value.startswith("//") and "\\" not in value:
        return value
    return default


def tokens_match(given: str, expected: str) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


# --- answers -------------------------------------------------------------------------------------


def _csp(extra_origins: Iterable[str]) -> str:
    extra = sorted(set(extra_origins))
    images = " ".join(["'self'", "data:", *extra])
    frames = " ".join(extra) or "'none'"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; frame-src {frames}; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


def security_headers(extra_origins: Iterable[str] = ()) -> dict[str, str]:
    return {
        "Content-Security-Policy": _csp(extra_origins),
        "Cache-Control": "no-store",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Strict-Transport-Security": "max-age=31536000",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }


def html(
    body: str, status: int = 200, *, cookies: list[Cookie] | None = None, origins: Iterable[str] = ()
) -> Response[str]:
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        body=body,
        headers=security_headers(origins),
        cookies=cookies or [],
    )


def redirect(location: str, *, cookies: list[Cookie] | None = None) -> Response[str]:
    headers = {**security_headers(), "Location": location}
    return Response(status_code=303, body="", headers=headers, cookies=cookies or [])


def download(body: str, content_type: str, filename: str) -> Response[str]:
    headers = {**security_headers(), "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(status_code=200, content_type=content_type, body=body, headers=headers)


def cookie(name: str, value: str, max_age: int | None = None) -> Cookie:
    """`__Host-` cookies: Secure, Path=/, no Domain; HttpOnly and SameSite=Lax (CSRF tokens do the rest)."""
    return Cookie(
        name=name, value=value, path="/", secure=True, http_only=True, max_age=max_age, same_site=SameSite.LAX_MODE
    )


def expired_cookie(name: str) -> Cookie:
    return cookie(name, "", max_age=0)


def origin_of(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None

