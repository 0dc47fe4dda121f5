"""The admin API application: one resolver, routers per resource, errors mapped in one place.

Authentication is API Gateway's (IAM/SigV4 in AWS; the embedded stack's gateway checks the bearer
token), so requests that reach this code are already authenticated.
"""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import ValidationError

from ..observability import logger
from ..ports import ConflictError, NotFound
from .errors import ApiError, error_response


@cache
def build_app() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)
    app.enable_swagger(path="/_swagger", title="invoice-bridge admin API")  # GET /openapi.json is served too

    # Routers are imported here, not at module import, so a cold start loads only what it needs.
    from . import routes  # noqa: F401  (registers routers)

    for router in routes.ROUTERS:
        app.include_router(router)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_json():  # type: ignore[no-untyped-def]  # no annotation: a Response type breaks schema generation
        return Response(status_code=200, content_type="application/json", body=app.get_openapi_json_schema())

    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(NotFound)
    def _not_found(exc: NotFound) -> Response:
        return error_response(404, "not_found", str(exc) or "Not found")

    @app.exception_handler(ConflictError)
    def _conflict(exc: ConflictError) -> Response:
        return error_response(409, "conflict", str(exc) or "Conflict")

    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response:
        details = [{"loc": list(e.get("loc", [])), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
        return error_response(422, "invalid_request", "The request is not valid", details)

    @app.exception_handler(ValidationError)
    def _invalid_model(exc: ValidationError) -> Response:
        details = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return error_response(422, "invalid_request", "The request is not valid", details)

    @app.not_found
    def _no_route(_exc: Exception) -> Response:
        return error_response(404, "no_route", "No such route")

    logger.debug("admin app built")
    return app
