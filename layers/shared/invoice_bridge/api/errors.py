"""One error shape for the admin API: {"error": {"code", "message", "details"}} with a 4xx status (or 503).

`documented()` builds a route's OpenAPI `responses` from the same models, so the published schema and
the bodies the handlers send cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

E = TypeVar("E", bound=Exception)
R = TypeVar("R", bound=Response[Any])


def on_exception(
    app: ApiGatewayResolver, exc_class: type[E]
) -> Callable[[Callable[[E], R]], Callable[[E], R]]:
    """`app.exception_handler(exc_class)` with types (Powertools declares none for its decorator), so a
    handler's parameter and answer are checked like any function's."""
    register = app.exception_handler(exc_class)

    def decorate(handler: Callable[[E], R]) -> Callable[[E], R]:
        register(handler)
        return handler

    return decorate


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list[Any] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


class ErrorInfo(BaseModel):
    code: str = Field(description="A stable, machine-readable error code, e.g. not_found, invalid_request")
    message: str = Field(description="A human-readable explanation; never contains secrets")
    details: list[Any] = Field(default_factory=list, description="Per-field problems, when there are any")


class ErrorBody(BaseModel):
    """Every 4xx and 503 answer of the admin API (and every 4xx of the gateway in front of it)."""

    error: ErrorInfo


def error_response(status: int, code: str, message: str, details: list[Any] | None = None) -> Response[str]:
    body = {"error": {"code": code, "message": message, "details": details or []}}
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body, default=str)
    )


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The request is malformed (bad parameter, cursor or body encoding)",
    401: "No credential: SigV4 signature in AWS, `Authorization: Bearer` on the embedded stack",
    403: "The credential is not valid for this API",
    404: "No such resource",
    409: "The resource's current state does not allow this",
    413: "The body is too large",
    415: "The body's media type is not accepted",
    422: "The request does not match the schema or fails a business rule",
    503: "A backing store this route needs is not configured, or is busy now (`busy`, with Retry-After: "
         "nothing of what it names was written; send the request again)",
}

# Answered by API Gateway (or the embedded gateway) before the handler runs, on every admin route.
AUTH_ERRORS = (401, 403)


def documented(
    status: int,
    description: str,
    *errors: int,
    content: dict[str, Any] | None = None,
) -> dict[int, OpenAPIResponse]:
    """OpenAPI responses: the success (schema from the handler's return model unless `content` is given;
    `content={}` for a body-less answer) plus each error status with the ErrorBody model."""
    success: OpenAPIResponse = {"description": description}
    if content is not None:
        success["content"] = content
    responses: dict[int, OpenAPIResponse] = {status: success}
    for code in sorted({*AUTH_ERRORS, 422, *errors}):
        responses[code] = {
            "description": ERROR_DESCRIPTIONS[code],
            "content": {content_types.APPLICATION_JSON: {"model": ErrorBody}},
        }
    return responses
