"""One error shape for the admin API: {"error": {"code", "message", "details"}} with a 4xx status."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list[Any] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


def error_response(status: int, code: str, message: str, details: list[Any] | None = None) -> Response:
    body = {"error": {"code": code, "message": message, "details": details or []}}
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body, default=str))
