"""The botocore client plugin (BOTOCORE_EXPERIMENTAL__PLUGINS="invoice_bridge_iam=sandbox.iam.plugin"):
every client of the process, including those Powertools builds, checks each call against the calling
function's role and answers a denial as AWS would, without sending the request.

- `before-parameter-build` (last, after boto3's DynamoDB serialisation): keep the call's parameters;
- `before-call`: authorize; a denial short-circuits the call with AWS's error (HTTP status and code per
  protocol, AWS's message). A call that cannot be evaluated is denied too (fail closed);
- `after-call` (S3): a GetObject / HeadObject of a missing key answers 403 AccessDenied, not 404, when
  the caller may not s3:ListBucket the bucket, as S3 does;
- presigned URLs: AWS authorizes a presigned request as its signer when it is used. A URL the signing
  function's role could not use gets a `x-sandbox-iam-denied` parameter, and the embedded moto server
  answers it 403 AccessDenied (sandbox/moto_server.py).
"""

from __future__ import annotations

import logging
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.awsrequest import AWSResponse

from .enforcement import Denial, Principal, current_principal
from .policy import Request

log = logging.getLogger("sandbox.iam")

_PARAMS = "sandbox_iam_params"
_PRINCIPAL = "sandbox_iam_principal"
_PRESIGN_DENIAL = "sandbox_iam_presign_denial"
PRESIGN_DENIED_PARAMETER = "x-sandbox-iam-denied"
_ERROR_BY_PROTOCOL = {  # (code, HTTP status) of an authorization failure
    "json": ("AccessDeniedException", 400),
    "rest-json": ("AccessDeniedException", 403),
}
_ERROR_BY_SERVICE = {"sqs": ("AccessDenied", 403)}  # JSON now, but its errors keep the query codes


def initialize_client_plugin(client: Any) -> None:
    client.meta.events.register_last("before-parameter-build", _remember_params)
    client.meta.events.register_first("before-call", _authorize)
    client.meta.events.register("after-call.s3", _missing_object_is_forbidden)
    client.meta.events.register("before-sign", _mark_denied_presigned_url)


def _remember_params(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    context[_PARAMS] = params
    principal = current_principal()
    if context.get("is_presign_request") and principal is not None and principal.authorizer is not None:
        service = model.service_model.service_name
        denial = principal.authorizer.check_call(principal.function, service, model.name, params)
        if denial is not None:
            context[_PRESIGN_DENIAL] = denial.message


def _mark_denied_presigned_url(request: Any, **_: Any) -> None:
    message = (getattr(request, "context", None) or {}).get(_PRESIGN_DENIAL)
    if message:
        separator = "&" if "?" in request.url else "?"
        request.url += f"{separator}{PRESIGN_DENIED_PARAMETER}={urllib.parse.quote(message, safe='')}"


def _authorize(model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
    principal = current_principal()
    if principal is None or principal.authorizer is None:
        return None
    if model.auth_type == "none":
        # Unsigned operations (Cognito's InitiateAuth, RespondToAuthChallenge, ...) are authorised by what
        # they carry (a password, a session, a user's access token), never by the caller's IAM policy.
        return None
    service, operation = model.service_model.service_name, model.name
    try:
        denial = principal.authorizer.check_call(principal.function, service, operation, context.get(_PARAMS, {}))
    except Exception as exc:  # noqa: BLE001 - a call the sandbox cannot evaluate is not allowed
        log.exception("IAM: %s.%s of %s could not be evaluated; denied", service, operation, principal.function)
        request = Request(f"{service}:{operation}", "*")
        denial = Denial(principal.authorizer.principal_arn(principal.function), request, False)
        context["sandbox_iam_error"] = repr(exc)
    if denial is None:
        context[_PRINCIPAL] = principal
        return None
    if principal.authorizer.log_denials:
        log.warning("IAM denied %s: %s", principal.function, denial.message)
    return error_response(model, denial.message)


class _NoBody:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b""


def error_response(model: Any, message: str) -> tuple[AWSResponse, dict[str, Any]]:
    """What botocore's parser makes of an authorization failure of this service."""
    service = model.service_model.service_name
    protocol = model.service_model.metadata.get("protocol", "query")
    code, status = _ERROR_BY_SERVICE.get(service) or _ERROR_BY_PROTOCOL.get(protocol, ("AccessDenied", 403))
    request_id = str(uuid.uuid4())
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"RequestId": request_id, "HTTPStatusCode": status,
                             "HTTPHeaders": {"x-amzn-requestid": request_id}, "RetryAttempts": 0},
    }
    return AWSResponse("https://sandbox-iam.invalid/", status, {}, _NoBody()), parsed


def _missing_object_is_forbidden(http_response: AWSResponse, parsed: dict[str, Any], model: Any,
                                 context: Mapping[str, Any], **_: Any) -> None:
    principal: Principal | None = context.get(_PRINCIPAL)
    if principal is None or principal.authorizer is None or http_response.status_code != 404:
        return
    if model.name not in ("GetObject", "HeadObject"):
        return
    bucket = str(context.get(_PARAMS, {}).get("Bucket", ""))
    listing = principal.authorizer.check_call(principal.function, "s3", "ListObjectsV2", {"Bucket": bucket})
    if listing is None:
        return  # with s3:ListBucket S3 may say the key does not exist
    http_response.status_code = 403
    parsed["Error"] = {"Code": "AccessDenied" if model.name == "GetObject" else "403",
                       "Message": "Access Denied" if model.name == "GetObject" else "Forbidden"}
    parsed.setdefault("ResponseMetadata", {})["HTTPStatusCode"] = 403
