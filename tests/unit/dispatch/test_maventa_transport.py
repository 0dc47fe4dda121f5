"""MaventaOperator edge cases with httpx.MockTransport: token refresh on 401, timeouts, how each answer is
read (issue 12.6: 429/408/503 are "try later" with Retry-After, a 409 on our id is looked up, other 4xx
fail with the operator's message), no secrets."""

from __future__ import annotations

import httpx
import pytest
from invoice_bridge.adapters.maventa import MaventaCredentials, MaventaOperator, clear_token_cache
from invoice_bridge.adapters.operator_http import retry_after
from invoice_bridge.dispatch import OperatorOutcomeUnknown, OperatorRejected, OperatorUnavailable
from invoice_bridge.ports import Receiver

CREDS = MaventaCredentials("company-1", "s3cret-user-key", "s3cret-vendor-key")
PEPPOL = Receiver(eia="0007:5567321707", name="Köpare AB")
IDEM = "5a0bb290-068d-5ee3-a1fb-8d330ab40872"


@pytest.fixture(autouse=True)
def _no_cached_tokens():
    clear_token_cache()
    yield
    clear_token_cache()


def test_a_revoked_token_is_replaced_once() -> None:
    issued: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            form = dict(httpx.QueryParams(request.content.decode()))
            assert form["client_id"] == "company-1" and form["scope"] == "invoice:send lookup company:read"
            issued.append(f"tok{len(issued)}")
            return httpx.Response(200, json={"access_token": issued[-1], "expires_in": 3600})
        if request.headers["Authorization"] == "Bearer tok0":
            return httpx.Response(
                401, json={"code": "auth_unauthorized", "message": "expired", "details": []}
            )
        return httpx.Response(404, json={"code": "not_found", "message": "Invoice not found", "details": []})

    operator = MaventaOperator("http://op", CREDS, transport=httpx.MockTransport(handler))
    assert operator.find("x") is None
    assert issued == ["tok0", "tok1"]
    operator.find("y")
    assert issued == ["tok0", "tok1"]  # cached afterwards


def test_upload_timeout_is_unknown_but_lookup_timeout_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        raise httpx.ReadTimeout("slow", request=request)

    operator = MaventaOperator("http://op", CREDS, transport=httpx.MockTransport(handler))
    with pytest.raises(OperatorOutcomeUnknown) as unknown:
        operator.send_einvoice(b"<x/>", "idem", PEPPOL)
    with pytest.raises(OperatorUnavailable):
        operator.lookup_receiver("5567321707", None)
    assert "s3cret" not in str(unknown.value) and "s3cret" not in repr(CREDS)


def test_upload_sends_uuid_format_and_pinned_route() -> None:
    seen: dict[str, bytes] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        seen["body"] = request.read()
        return httpx.Response(201, json={"id": "op-1", "status": "PENDING", "actions": []})

    operator = MaventaOperator("http://op", CREDS, transport=httpx.MockTransport(handler))
    document = operator.send_einvoice(b"<Invoice/>", "idem-42", Receiver("0007:5567321707", "K", "MAVENTA", "INTERNAL"))
    assert document.operator_invoice_id == "op-1" and document.status == "PENDING"
    body = seen["body"].decode()
    for part in (
        'name="uuid"\r\n\r\nidem-42',
        'name="format"\r\n\r\nPEPPOLBIS30',
        'name="recipient_eia"\r\n\r\n0007:5567321707',
        'name="recipient_operator"\r\n\r\nMAVENTA',
        'name="disabled_routes[]"\r\n\r\nprint',
        "<Invoice/>",
    ):
        assert part in body


def _answering(*answers: httpx.Response, seen: list[str] | None = None) -> MaventaOperator:
    """An operator whose calls (after the token) get `answers` in turn."""
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        if seen is not None:
            seen.append(f"{request.method} {request.url.path}")
        return queue.pop(0)

    return MaventaOperator("http://op", CREDS, transport=httpx.MockTransport(handler))


@pytest.mark.parametrize("status", [429, 408, 503])
def test_try_later_answers_are_unavailable_with_the_operators_delay(status: int) -> None:
    operator = _answering(httpx.Response(status, headers={"Retry-After": "12"}, json={"code": "x", "message": "y"}))
    with pytest.raises(OperatorUnavailable) as later:
        operator.send_einvoice(b"<Invoice/>", IDEM, PEPPOL)
    assert later.value.retry_after_seconds == 12


def test_retry_after_as_a_date_and_capped() -> None:
    dated = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2026 07:28:30 GMT"})
    assert retry_after(dated, now=1792567700.0) == 10.0
    assert retry_after(httpx.Response(429, headers={"Retry-After": "86400"})) == 900.0
    assert retry_after(httpx.Response(429)) is None and retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None


def test_a_409_on_our_id_looks_the_invoice_up() -> None:
    seen: list[str] = []
    operator = _answering(
        httpx.Response(409, json={"code": "conflict", "message": "uuid already used", "details": []}),
        httpx.Response(200, json={"id": IDEM, "status": "PENDING", "actions": []}),
        seen=seen,
    )
    document = operator.send_einvoice(b"<Invoice/>", IDEM, PEPPOL)
    assert document.operator_invoice_id == IDEM and document.status == "PENDING"
    assert seen == ["POST /v1/invoices", f"GET /v1/invoices/{IDEM}"]


def test_other_refusals_fail_with_the_operators_message() -> None:
    operator = _answering(
        httpx.Response(400, json={"code": "invalid_parameters", "message": "File is not valid",
                                  "details": ["BR-CO-15 total mismatch"]}),
        httpx.Response(404, json={"code": "not_found", "message": "Invoice not found", "details": []}),
    )
    with pytest.raises(OperatorRejected) as refused:
        operator.send_einvoice(b"<Invoice/>", IDEM, PEPPOL)
    assert (refused.value.code, refused.value.status) == ("invalid_parameters", 400)
    assert refused.value.message == "File is not valid: BR-CO-15 total mismatch"


def test_an_unknown_status_is_reported() -> None:
    operator = _answering(httpx.Response(200, json={"id": IDEM, "status": "SENT", "actions": []}))
    document = operator.status(IDEM)
    assert document.status == "UNKNOWN" and document.message == "Maventa reports the status 'SENT'"


def test_print_settings_that_cannot_be_read_leave_the_letter_to_the_upload() -> None:
    operator = _answering(httpx.Response(403, json={"code": "insufficient_scope", "message": "no", "details": []}))
    service = operator.print_service()
    assert service.enabled and not service.own_image and "insufficient_scope" in (service.detail or "")
