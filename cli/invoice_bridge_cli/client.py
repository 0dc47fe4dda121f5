"""The admin API over httpx: bearer token (embedded stack) or SigV4 (deployed stack), one error type."""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterator
from decimal import Decimal
from typing import Any

import httpx

from .config import SIGV4_SERVICE, Connection

TIMEOUT_SECONDS = 30.0
# Headers that take part in the signature: what API Gateway sees unchanged (not connection, user-agent…).
_SIGNED_HEADERS = ("content-type", "content-md5")


class ApiError(Exception):
    """A 4xx/5xx answer with the contract's body {"error": {code, message, details}}, or no answer at all."""

    def __init__(self, status: int | None, code: str, message: str, details: list[Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            error = None
        if isinstance(error, dict):
            details = error.get("details")
            return cls(
                response.status_code,
                str(error.get("code") or "error"),
                str(error.get("message") or response.reason_phrase),
                details if isinstance(details, list) else [details] if details else [],
            )
        # API Gateway's own answers (e.g. IAM 403) are {"message": "..."}.
        try:
            message = response.json().get("message")
        except (ValueError, AttributeError):
            message = None
        return cls(response.status_code, f"http_{response.status_code}", str(message or response.reason_phrase))


class SigV4(httpx.Auth):
    """Signs each request with the caller's AWS credentials for API Gateway with IAM auth."""

    requires_request_body = True

    def __init__(self, credentials: Any, region: str, service: str = SIGV4_SERVICE) -> None:
        self.credentials = credentials
        self.region = region
        self.service = service

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        headers = {k: v for k, v in request.headers.items() if k.lower() in _SIGNED_HEADERS}
        aws_request = AWSRequest(method=request.method, url=str(request.url), data=request.content, headers=headers)
        SigV4Auth(self.credentials, self.service, self.region).add_auth(aws_request)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-SHA256"):
            if name in aws_request.headers:
                request.headers[name] = aws_request.headers[name]
        yield request


class BearerToken(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def decode_json(response: httpx.Response) -> Any:
    """JSON with numbers as Decimal: money never passes through float."""
    if not response.content:
        return None
    return json.loads(response.content, parse_float=Decimal)


class AdminApi:
    """One method per HTTP verb; answers are decoded JSON, failures are ApiError."""

    def __init__(
        self,
        connection: Connection,
        *,
        transport: httpx.BaseTransport | None = None,
        credentials: Callable[[], Any] | None = None,
    ) -> None:
        if connection.sigv4_region:
            if credentials is None:
                from .config import aws_credentials

                credentials = aws_credentials
            auth: httpx.Auth = SigV4(credentials(), connection.sigv4_region)
        else:
            auth = BearerToken(connection.admin_token or "")
        self.connection = connection
        self._transport = transport
        self._http = httpx.Client(
            base_url=connection.api_url, auth=auth, transport=transport, timeout=TIMEOUT_SECONDS
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AdminApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(None, "connection_failed", f"{self.connection.api_url}: {exc.__class__.__name__}") from None
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        return response

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return decode_json(self.request("GET", path, params=_clean(params)))

    def post(self, path: str, body: Any = None) -> Any:
        return decode_json(self.request("POST", path, **_json_body(body)))

    def patch(self, path: str, body: Any) -> Any:
        return decode_json(self.request("PATCH", path, **_json_body(body)))

    def put(self, path: str, body: Any = None, *, content: bytes | None = None, content_type: str | None = None) -> Any:
        if content is not None:
            headers = {"Content-Type": content_type or "application/octet-stream"}
            return decode_json(self.request("PUT", path, content=content, headers=headers))
        return decode_json(self.request("PUT", path, **_json_body(body)))

    def delete(self, path: str) -> Any:
        return decode_json(self.request("DELETE", path))

    def pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every page of a `{items, next_cursor}` listing, following the cursor to the end."""
        query = dict(_clean(params))
        while True:
            page = self.get(path, query)
            yield list(page.get("items") or [])
            cursor = page.get("next_cursor")
            if not cursor:
                return
            query["cursor"] = cursor

    def download(self, url: str) -> bytes:
        """A presigned link: fetched without our credentials (S3 refuses a second authorization)."""
        try:
            with httpx.Client(transport=self._transport, timeout=TIMEOUT_SECONDS) as plain:
                response = plain.get(url)
        except httpx.HTTPError as exc:
            raise ApiError(None, "download_failed", f"the document could not be fetched: {exc.__class__.__name__}") from None
        if response.status_code >= 400:
            raise ApiError(response.status_code, "download_failed", "the document link did not answer (expired?)")
        return response.content


def _clean(params: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (params or {}).items() if v is not None}


def _json_body(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    return {
        "content": json.dumps(body, default=_json_default).encode("utf-8"),
        "headers": {"Content-Type": "application/json"},
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
