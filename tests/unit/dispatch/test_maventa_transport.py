"""MaventaOperator edge cases with httpx.MockTransport: token refresh on 401, timeouts, no secrets."""

from __future__ import annotations

import httpx
import pytest
from invoice_bridge.adapters.maventa import MaventaCredentials, MaventaOperator, clear_token_cache
from invoice_bridge.dispatch import OperatorOutcomeUnknown, OperatorUnavailable

CREDS = MaventaCredentials("company-1", "s3cret-user-key", "s3cret-vendor-key")


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
            assert form["client_id"] == "company-1" and form["scope"] == "invoice:send lookup"
            issued.append(f"tok{len(issued)}")
            return httpx.Response(200, json={"access_token": issued[-1], "expires_in": 3600})
        if request.headers["Authorization"] == "Bearer tok0":
            return httpx.Response(
                401, json={"code": "auth_unauthorized", "message": "expired", "details": []}
            )
        return httpx.Response(200, json=[])

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
        operator.send_einvoice(b"<x/>", "idem", "0007:5567321707")
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
    document = operator.send_einvoice(b"<Invoice/>", "idem-42", "0007:5567321707")
    assert document.operator_invoice_id == "op-1" and document.status == "PENDING"
    body = seen["body"].decode()
    for part in (
        'name="uuid"\r\n\r\nidem-42',
        'name="format"\r\n\r\nPEPPOLBIS30',
        'name="recipient_eia"\r\n\r\n0007:5567321707',
        'name="disabled_routes[]"\r\n\r\nprint',
        "<Invoice/>",
    ):
        assert part in body
