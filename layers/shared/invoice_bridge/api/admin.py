"""The admin API application: one resolver, routers per resource, errors mapped in one place.

Authentication is API Gateway's (IAM/SigV4 in AWS; the embedded stack's gateway checks the bearer
token), so requests that reach this code are already authenticated.
"""

from __future__ import annotations

import math
from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import ValidationError

from ..observability import logger
from ..ports import ConflictError, NotFound, StoreBusy
from .errors import ApiError, error_response, on_exception

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import SecurityScheme

TITLE = "invoice-bridge admin API"
DESCRIPTION = (
    "The office's admin API (contract.md section 3). Errors are always "
    '`{"error": {"code", "message", "details"}}` with a 4xx status, or 503 `busy` with Retry-After when '
    "the table refused a write for now (send the request again). Authentication: in AWS every route "
    "needs an IAM SigV4 signature (`sigv4`); on the embedded stack `Authorization: Bearer {admin_token}` "
    "(`bearerAuth`). Either one suffices for the deployment it belongs to."
)
# OpenAPI security alternatives: bearer OR SigV4.
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"sigv4": []}]


def security_schemes() -> dict[str, SecurityScheme]:
    """The schemes GET /openapi.json states. Powertools' OpenAPI models are ~200 pydantic classes: they are
    built for that route only, not at every cold start (request validation does not need them)."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer

    return {
        "bearerAuth": HTTPBearer(description="Embedded (local) stack: the stack's admin token as a bearer token"),
        # API Gateway's own notation for IAM auth: an apiKey scheme on Authorization, typed awsSigv4.
        "sigv4": APIKey.model_validate(
            {
                "name": "Authorization",
                "in": APIKeyIn.header,
                "description": "AWS: an IAM Signature Version 4 signed request (API Gateway AWS_IAM authorizer)",
                "openapi_extensions": {"x-amazon-apigateway-authtype": "awsSigv4"},
            }
        ),
    }


@cache
def build_app() -> APIGatewayRestResolver:
    # No Swagger UI: its registration builds the OpenAPI models, and API Gateway routes only
    # GET /openapi.json to this function (template.yaml).
    app = APIGatewayRestResolver(enable_validation=True)

    # Routers are imported here, not at module import, so a cold start loads only what it needs.
    from . import routes  # noqa: F401  (registers routers)

    for router in routes.ROUTERS:
        app.include_router(router)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_json():  # type: ignore[no-untyped-def]  # no annotation: a Response type breaks schema generation
        schema = app.get_openapi_json_schema(
            title=TITLE, description=DESCRIPTION, security_schemes=security_schemes(), security=SECURITY
        )
        return Response(status_code=200, content_type="application/json", body=schema)

    @on_exception(app, ApiError)
    def _api_error(exc: ApiError) -> Response[str]:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @on_exception(app, NotFound)
    def _not_found(exc: NotFound) -> Response[str]:
        return error_response(404, "not_found", str(exc) or "Not found")

    @on_exception(app, ConflictError)
    def _conflict(exc: ConflictError) -> Response[str]:
        return error_response(409, "conflict", str(exc) or "Conflict")

    @on_exception(app, StoreBusy)
    def _busy(exc: StoreBusy) -> Response[str]:
        # Nothing of the refused writes was applied: the same request can succeed in a moment.
        response = error_response(503, "busy", str(exc) or "Busy", [{"id": i} for i in exc.not_written])
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_seconds)))
        return response

    @on_exception(app, RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response[str]:
        details = [{"loc": list(e.get("loc", [])), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
        return error_response(422, "invalid_request", "The request is not valid", details)

    @on_exception(app, UnicodeDecodeError)
    def _undecodable_body(_exc: UnicodeDecodeError) -> Response[str]:
        # Bytes (e.g. an image) sent to a JSON route: the body cannot even be read as text.
        details = [{"loc": ["body"], "msg": "the body is not UTF-8 text", "type": "json_invalid"}]
        return error_response(422, "invalid_request", "The request body is not valid JSON", details)

    @on_exception(app, ValidationError)
    def _invalid_model(exc: ValidationError) -> Response[str]:
        details = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return error_response(422, "invalid_request", "The request is not valid", details)

    @app.not_found
    def _no_route(_exc: Exception) -> Response[str]:
        return error_response(404, "no_route", "No such route")

    logger.debug("admin app built")
    return app
