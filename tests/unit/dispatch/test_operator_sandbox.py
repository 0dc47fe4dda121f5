"""The Maventa-compatible operator sandbox, through Flask's test client."""

from __future__ import annotations

import base64
import io

import pytest

from sandbox.operator import OperatorState, create_app

COMPANY, API_KEY = "11111111-2222-3333-4444-555555555555", "user-key"


@pytest.fixture
def state() -> OperatorState:
    return OperatorState()


@pytest.fixture
def http(state: OperatorState):
    app = create_app(state)
    client = app.test_client()
    client.post("/_sandbox/accounts", json={"company_uuid": COMPANY, "api_key": API_KEY})
    return client


def _token(http) -> dict[str, str]:  # type: ignore[no-untyped-def]
    answer = http.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": COMPANY,
            "client_secret": API_KEY,
            "vendor_api_key": "v",
            "scope": "eui",
        },
    )
    assert answer.status_code == 200
    assert answer.json["token_type"] == "bearer" and answer.json["expires_in"] == 3600
    return {"Authorization": f"Bearer {answer.json['access_token']}"}


def _upload(http, headers, **fields):  # type: ignore[no-untyped-def]
    data = {"file": (io.BytesIO(b"<Invoice/>"), "invoice.xml"), "format": "PEPPOLBIS30", **fields}
    return http.post("/v1/invoices", data=data, headers=headers, content_type="multipart/form-data")


def test_unknown_credentials_get_maventa_error_shape(http) -> None:  # type: ignore[no-untyped-def]
    answer = http.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": COMPANY,
            "client_secret": "wrong",
            "vendor_api_key": "v",
        },
    )
    assert answer.status_code == 401
    assert (
        answer.json["code"] == "auth_unauthorized" and "message" in answer.json and "details" in answer.json
    )
    assert http.get("/v1/invoices/x").status_code == 401


def test_configured_vendor_key_is_enforced(state: OperatorState) -> None:
    client = create_app(state).test_client()
    client.post(
        "/_sandbox/accounts", json={"company_uuid": COMPANY, "api_key": API_KEY, "vendor_api_key": "ours"}
    )
    base = {"grant_type": "client_credentials", "client_id": COMPANY, "client_secret": API_KEY}
    assert client.post("/oauth2/token", data={**base, "vendor_api_key": "theirs"}).status_code == 401
    assert client.post("/oauth2/token", data={**base, "vendor_api_key": "ours"}).status_code == 200


def test_repeated_uuid_returns_the_existing_invoice(http) -> None:  # type: ignore[no-untyped-def]
    headers = _token(http)
    first = _upload(http, headers, uuid="u-1", recipient_eia="0007:5560000001", recipient_operator="PEPPOL")
    again = _upload(http, headers, uuid="u-1", recipient_eia="0007:5560000001", recipient_operator="PEPPOL")
    assert first.status_code == again.status_code == 201
    assert first.json["id"] == again.json["id"]
    assert first.json["status"] == "PENDING" and first.json["destination"] == "EINVOICE"
    assert first.json["recipient"]["eia"] == "0007:5560000001"
    documents = http.get("/_sandbox/invoices").json
    assert len(documents) == 1
    assert base64.b64decode(documents[0]["file"]) == b"<Invoice/>"
    assert documents[0]["uuid"] == "u-1" and documents[0]["format"] == "PEPPOLBIS30"
    found = http.get("/v1/invoices", query_string={"uuid": "u-1"}, headers=headers).json
    assert [item["id"] for item in found] == [first.json["id"]]
    assert http.get("/v1/invoices", query_string={"uuid": "other"}, headers=headers).json == []


def test_print_route_without_eia(http) -> None:  # type: ignore[no-untyped-def]
    headers = _token(http)
    answer = _upload(http, headers, uuid="p-1", **{"disabled_routes[]": ["einvoice", "email"]})
    assert answer.status_code == 201 and answer.json["destination"] == "PRINT"
    refused = _upload(http, headers, uuid="p-2", **{"disabled_routes[]": ["einvoice", "email", "print"]})
    assert refused.status_code == 400 and refused.json["code"] == "invalid_parameters"


def test_status_advances_and_failures_are_injected(http, state: OperatorState) -> None:  # type: ignore[no-untyped-def]
    headers = _token(http)
    delivered = _upload(http, headers, uuid="a", recipient_eia="0007:5560000001").json
    http.post("/_sandbox/faults", json={"fail_delivery_rate": 1.0})
    failed = _upload(http, headers, uuid="b", recipient_eia="0007:5560000001").json
    assert http.get(f"/v1/invoices/{delivered['id']}", headers=headers).json["status"] == "DELIVERED"
    assert http.get(f"/v1/invoices/{failed['id']}", headers=headers).json["status"] == "FAILED"
    assert http.get("/v1/invoices/nope", headers=headers).status_code == 404


def test_status_waits_for_the_delivery_delay(http, state: OperatorState) -> None:  # type: ignore[no-untyped-def]
    state.delivery_delay = 60
    headers = _token(http)
    created = _upload(http, headers, uuid="slow", recipient_eia="0007:5560000001").json
    assert http.get(f"/v1/invoices/{created['id']}", headers=headers).json["status"] == "PENDING"


def test_receiver_lookup_by_org_number_and_gln(http) -> None:  # type: ignore[no-untyped-def]
    http.post(
        "/_sandbox/receivers", json={"org_number": "5567321707", "gln": "7300010000001", "name": "Köpare AB"}
    )
    headers = _token(http)
    by_bid = http.get(
        "/v1/lookup/receivers", query_string={"bid": "5567321707", "network[]": "PEPPOL"}, headers=headers
    ).json
    assert {r["eia"] for r in by_bid} == {"0007:5567321707", "0088:7300010000001"}
    by_gln = http.get(
        "/v1/lookup/receivers", query_string={"eia": "0088:7300010000001"}, headers=headers
    ).json
    assert [r["eia"] for r in by_gln] == ["0088:7300010000001"]
    assert by_gln[0]["participant"]["name"] == "Köpare AB"
    assert http.get("/v1/lookup/receivers", query_string={"bid": "5560000000"}, headers=headers).json == []
    assert http.get("/v1/lookup/receivers", headers=headers).status_code == 400


def test_rate_5xx_and_reset(http) -> None:  # type: ignore[no-untyped-def]
    headers = _token(http)
    http.post("/_sandbox/faults", json={"rate_5xx": 1.0})
    answer = _upload(http, headers, uuid="x", recipient_eia="0007:5560000001")
    assert answer.status_code == 503 and answer.json["code"] == "service_unavailable"
    assert http.get("/_sandbox/invoices").json == []  # nothing stored on a 5xx
    http.post("/_sandbox/reset")
    assert (
        http.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": COMPANY,
                "client_secret": API_KEY,
                "vendor_api_key": "v",
            },
        ).status_code
        == 401
    )
