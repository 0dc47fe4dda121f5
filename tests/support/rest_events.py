"""API Gateway REST proxy events for calling our resolvers in-process, the way the gateway would."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any


class LambdaContext:
    function_name = "test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-north-1:123456789012:function:test"
    aws_request_id = "req-1"


def api_event(
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> dict[str, Any]:
    """An event as API Gateway's REST proxy integration builds it."""
    all_headers = {"Host": "bridge.example.com", **(headers or {})}
    is_base64 = False
    text: str | None = None
    if raw is not None:
        text, is_base64 = base64.b64encode(raw).decode(), True
    elif isinstance(body, str):
        text = body
    elif body is not None:
        text = json.dumps(body)
        all_headers.setdefault("Content-Type", "application/json")
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": uuid.uuid4().hex,
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "pytest"},
            "accountId": "123456789012",
            "apiId": "api",
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


def call(app: Any, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """One request through a resolver (`app.resolve`), answered as the gateway would get it."""
    return app.resolve(api_event(method, path, **kwargs), LambdaContext())  # type: ignore[no-any-return]
