"""The operator sandbox, through Flask's test client: as strict as Maventa and InExchange (issue 17.5)."""

from __future__ import annotations

import base64
import io
import zipfile

import pytest

from sandbox.operator import OperatorState, create_app

COMPANY, API_KEY = "11111111-2222-3333-4444-555555555555", "user-key"
PARTNER = "partner-key"
U1, U2 = "aaaaaaaa-0000-4000-8000-000000000001", "aaaaaaaa-0000-4000-8000-000000000002"
UBL = b"""<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"><cbc:ID>1001</cbc:ID>
 <cac:AccountingCustomerParty><cac:Party><cac:PartyName><cbc:Name>K AB</cbc:Name></cac:PartyName>
 <cac:PostalAddress><cbc:StreetName>V 2</cbc:StreetName><cbc:CityName>G</cbc:CityName><cbc:PostalZone>41101</cbc:PostalZone>
 </cac:PostalAddress></cac:Party></cac:AccountingCustomerParty></Invoice>"""


@pytest.fixture
def state() -> OperatorState:
    return OperatorState(partner_api_key=PARTNER)


@pytest.fixture
def http(state: OperatorState):  # type: ignore[no-untyped-def]
    client = create_app(state).test_client()
    client.post("/_sandbox/accounts", json={"company_uuid": COMPANY, "api_key": API_KEY})
    return client


def _token(http, scope: str = "invoice:send lookup company:read") -> dict[str, str]:  # type: ignore[no-untyped-def]
    answer = http.post("/oauth2/token", data={"grant_type": "client_credentials", "client_id": COMPANY,
                                              "client_secret": API_KEY, "vendor_api_key": "v", "scope": scope})
    assert answer.status_code == 200
    assert answer.json["token_type"] == "bearer" and answer.json["expires_in"] == 3600
    return {"Authorization": f"Bearer {answer.json['access_token']}"}


def _upload(http, headers, file: bytes = UBL, **fields):  # type: ignore[no-untyped-def]
    data = {"file": (io.BytesIO(file), "invoice.xml"), "format": "PEPPOLBIS30", **fields}
    return http.post("/v1/invoices", data=data, headers=headers, content_type="multipart/form-data")


def test_unknown_credentials_get_maventa_error_shape(http) -> None:  # type: ignore[no-untyped-def]
    answer = http.post("/oauth2/token", data={"grant_type": "client_credentials", "client_id": COMPANY,
                                              "client_secret": "wrong", "vendor_api_key": "v"})
    assert answer.status_code == 401
    assert answer.json["code"] == "auth_unauthorized" and "message" in answer.json and "details" in answer.json
    assert http.get(f"/v1/invoices/{U1}").status_code == 401


def test_the_default_scope_cannot_send_invoices(http) -> None:  # type: ignore[no-untyped-def]
    answer = _upload(http, _token(http, scope=""), uuid=U1, recipient_eia="0007:5560000001")
    assert answer.status_code == 403 and answer.json["code"] == "insufficient_scope"


def test_configured_vendor_key_is_enforced(state: OperatorState) -> None:
    client = create_app(state).test_client()
    client.post("/_sandbox/accounts", json={"company_uuid": COMPANY, "api_key": API_KEY, "vendor_api_key": "ours"})
    base = {"grant_type": "client_credentials", "client_id": COMPANY, "client_secret": API_KEY}
    assert client.post("/oauth2/token", data={**base, "vendor_api_key": "theirs"}).status_code == 401
    assert client.post("/oauth2/token", data={**base, "vendor_api_key": "ours"}).status_code == 200


def test_the_uuid_is_the_id_and_a_repeat_is_refused(http) -> None:  # type: ignore[no-untyped-def]
    headers = _token(http)
    first = _upload(http, headers, uuid=U1, recipient_eia="0007:5560000001", recipient_operator="PEPPOL")
    again = _upload(http, headers, uuid=U1, recipient_eia="0007:5560000001", recipient_operator="PEPPOL")
    assert first.status_code == 201 and first.json["id"] == U1 and first.json["status"] == "PENDING"
    assert again.status_code == 422 and again.json["code"] == "invoice_duplicate_uuid"
    http.post("/_sandbox/settings", json={"duplicate_uuid_status": 409})
    assert _upload(http, headers, uuid=U1, recipient_eia="0007:5560000001").status_code == 409
    [document] = http.get("/_sandbox/invoices").json
    assert base64.b64decode(document["file"]) == UBL and document["uuid"] == U1 and document["number"] == "1001"


def test_invoices_have_no_uuid_field_and_the_list_no_uuid_filter(http) -> None:  # type: ignore[no-untyped-def]
    headers = _token(http)
    _upload(http, headers, uuid=U1, recipient_eia="0007:5560000001")
    assert "uuid" not in http.get(f"/v1/invoices/{U1}", headers=headers).json
    # The list's default direction is RECEIVED, and an unknown `uuid` parameter filters nothing.
    assert http.get("/v1/invoices", query_string={"uuid": U1}, headers=headers).json == []
    sent = http.get("/v1/invoices", query_string={"direction": "SENT", "uuid": "other"}, headers=headers).json
    assert [item["id"] for item in sent] == [U1] and all("uuid" not in item for item in sent)


def test_form_arrays_are_read_by_their_real_names(http) -> None:  # type: ignore[no-untyped-def]
    headers = _token(http)
    bare = _upload(http, headers, uuid=U1, **{"disabled_routes": ["einvoice", "email"]})
    assert bare.status_code == 400 and bare.json["message"] == "disabled_routes is invalid"
    letter = _upload(http, headers, uuid=U2, **{"disabled_routes[]": ["einvoice", "email"]})
    assert letter.status_code == 201 and letter.json["destination"] == "PRINT"


def test_letters_are_refused_while_printing_is_off_and_need_an_address(http) -> None:  # type: ignore[no-untyped-def]
    headers = _token(http)
    routes = {"disabled_routes[]": ["einvoice", "email"]}
    http.patch(f"/_sandbox/accounts/{COMPANY}", json={"print": {"enabled": False}})
    off = _upload(http, headers, uuid=U1, **routes)
    assert off.status_code == 422 and off.json["code"] == "print_disabled"
    http.patch(f"/_sandbox/accounts/{COMPANY}", json={"print": {"enabled": True}})
    no_city = UBL.replace(b"<cbc:CityName>G</cbc:CityName>", b"")
    missing = _upload(http, headers, no_city, uuid=U1, **routes)
    assert missing.status_code == 422 and missing.json["details"] == ["missing: city"]
    assert http.get("/_sandbox/invoices").json == []


def test_a_letter_prints_our_pdf_only_with_own_image_printing(http) -> None:  # type: ignore[no-untyped-def]
    headers = _token(http)
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("invoice.xml", UBL)
        archive.writestr("invoice.pdf", b"%PDF-1.7")
    routes = {"disabled_routes[]": ["einvoice", "email"]}
    assert _upload(http, headers, bundle.getvalue(), uuid=U1, **routes).status_code == 201
    http.patch(f"/_sandbox/accounts/{COMPANY}", json={"print": {"use_own_pdf": False}})
    assert _upload(http, headers, bundle.getvalue(), uuid=U2, **routes).status_code == 201
    images = {d["uuid"]: d["print_image"] for d in http.get("/_sandbox/invoices").json}
    assert images == {U1: "own", U2: "operator_template"}
    settings = http.get("/v1/company/settings", query_string={"fields[]": "send_invoice_print"}, headers=headers)
    assert settings.json == {"send_invoice_print": {**settings.json["send_invoice_print"], "use_own_pdf": False}}


def test_lookups_answer_from_all_three_networks_with_their_operators(http) -> None:  # type: ignore[no-untyped-def]
    http.post("/_sandbox/receivers", json={"org_number": "5567321707", "name": "Peppol AB"})
    http.post("/_sandbox/receivers", json={"org_number": "5567321707", "name": "Peppol AB", "network": "INTERNAL"})
    http.post("/_sandbox/receivers", json={"org_number": "5567321707", "name": "Peppol AB", "network": "EXTERNAL",
                                           "operator": "PAGERO"})
    headers = _token(http)
    every = http.get("/v1/lookup/receivers", query_string={"bid": "5567321707", "network[]": ["PEPPOL", "INTERNAL",
                                                                                              "EXTERNAL"]},
                     headers=headers).json
    assert {(hit["network"], hit["operator"]) for hit in every} == {
        ("PEPPOL", "PEPPOL"), ("INTERNAL", "MAVENTA"), ("EXTERNAL", "PAGERO")}
    peppol = http.get("/v1/lookup/receivers", query_string={"bid": "5567321707", "network[]": "PEPPOL"},
                      headers=headers).json
    assert [hit["network"] for hit in peppol] == ["PEPPOL"]
    assert http.get("/v1/lookup/receivers", headers=headers).status_code == 400


def test_a_route_pinned_to_the_wrong_operator_fails_without_fallback(http) -> None:  # type: ignore[no-untyped-def]
    http.post("/_sandbox/receivers", json={"org_number": "5567321707", "name": "Intern AB", "network": "INTERNAL"})
    headers = _token(http)
    _upload(http, headers, uuid=U1, recipient_eia="0007:5567321707", recipient_operator="PEPPOL")
    _upload(http, headers, uuid=U2, recipient_eia="0007:5567321707", recipient_operator="MAVENTA")
    assert http.get(f"/v1/invoices/{U1}", headers=headers).json["status"] == "FAILED"
    assert http.get(f"/v1/invoices/{U2}", headers=headers).json["status"] == "DELIVERED"


@pytest.mark.parametrize("written", ["556732-1707", "5567321707", "SE556732170701"])
def test_receivers_are_registered_with_org_numbers_written_the_usual_ways(http, written: str) -> None:  # type: ignore[no-untyped-def]
    """Issue 12.11 (operator sandbox): a receiver registered with a hyphen, without, or by VAT number is found."""
    key = "vat_number" if written.startswith("SE") else "org_number"
    assert http.post("/_sandbox/receivers", json={key: written, "name": "Köpare AB"}).status_code == 201
    headers = _token(http)
    hits = http.get("/v1/lookup/receivers", query_string={"bid": "5567321707", "network[]": "PEPPOL"},
                    headers=headers).json
    assert [hit["eia"] for hit in hits] == ["0007:5567321707"]
    assert http.get("/v1/lookup/receivers", query_string={"bid": "556732-1707"}, headers=headers).json == hits
    refused = http.post("/_sandbox/receivers", json={"org_number": "not a number", "name": "X"})
    assert refused.status_code == 400


def test_status_advances_and_unknown_statuses_can_be_injected(http, state: OperatorState) -> None:  # type: ignore[no-untyped-def]
    http.post("/_sandbox/receivers", json={"org_number": "5560360793", "name": "K AB"})
    headers = _token(http)
    _upload(http, headers, uuid=U1, recipient_eia="0007:5560360793")
    http.post("/_sandbox/faults", json={"unknown_status_rate": 1.0})
    _upload(http, headers, uuid=U2, recipient_eia="0007:5560360793")
    assert http.get(f"/v1/invoices/{U1}", headers=headers).json["status"] == "DELIVERED"
    assert http.get(f"/v1/invoices/{U2}", headers=headers).json["status"] == "PARKED"


def test_429_and_503_say_when_to_come_back(http) -> None:  # type: ignore[no-untyped-def]
    headers = _token(http)
    http.post("/_sandbox/faults", json={"rate_429": 1.0, "retry_after_seconds": 5})
    limited = _upload(http, headers, uuid=U1, recipient_eia="0007:5560000001")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "5"
    http.post("/_sandbox/faults", json={"rate_429": 0.0, "rate_5xx": 1.0})
    assert _upload(http, headers, uuid=U1, recipient_eia="0007:5560000001").status_code == 503
    assert http.get("/_sandbox/invoices").json == []  # nothing stored on a "try later"


# --- InExchange -------------------------------------------------------------------------------------


def _client_token(http, erp_id: str = "issuer-1") -> dict[str, str]:  # type: ignore[no-untyped-def]
    http.post("/_sandbox/inexchange/clients", json={"erp_id": erp_id})
    created = http.post("/v1/api/clientTokens/create", json={"erpId": erp_id}, headers={"APIKey": PARTNER})
    assert created.status_code == 200
    return {"ClientToken": created.json["token"]}


def _outbound(http, headers, erp_document_id: str, send_as: dict) -> object:  # type: ignore[no-untyped-def]
    upload = http.post("/v1/api/documents", data=UBL, headers={**headers, "Content-Type": "application/xml"})
    assert upload.status_code == 201
    document = {"DocumentFormat": "bis3", "ErpDocumentId": erp_document_id, "DocumentUri": upload.headers["Location"]}
    return http.post("/v1/api/documents/outbound", json={"SendDocumentAs": send_as, "Document": document},
                     headers=headers)


def test_client_tokens_need_the_partner_key_and_a_registered_client(http) -> None:  # type: ignore[no-untyped-def]
    assert http.post("/v1/api/clientTokens/create", json={"erpId": "x"}, headers={"APIKey": "wrong"}).status_code == 401
    unknown = http.post("/v1/api/clientTokens/create", json={"erpId": "nobody"}, headers={"APIKey": PARTNER})
    assert unknown.status_code == 400 and "modelState" in unknown.json
    headers = _client_token(http)
    assert http.post("/v1/api/buyerparties/lookup", json={"PartyId": "1"}, headers=headers).status_code == 200
    http.post("/v1/api/clientTokens/revoke", json={"clientToken": headers["ClientToken"]}, headers={"APIKey": PARTNER})
    assert http.post("/v1/api/buyerparties/lookup", json={"PartyId": "1"}, headers=headers).status_code == 401


def test_inexchange_send_find_by_erp_id_and_status(http) -> None:  # type: ignore[no-untyped-def]
    http.post("/_sandbox/receivers", json={"org_number": "5567321707", "name": "Köpare AB"})
    headers = _client_token(http)
    party = http.post("/v1/api/buyerparties/lookup", json={"PartyId": "10", "orgNo": "5567321707"},
                      headers=headers).json
    assert party["exactHit"] is True
    company_id = party["parties"][0]["companyId"]
    sent = _outbound(http, headers, "erp-1", {"Type": "Electronic", "Electronic": {"RecipientId": company_id}})
    assert sent.status_code == 201  # type: ignore[attr-defined]
    document_id = sent.headers["Location"].rsplit("/", 1)[-1]  # type: ignore[attr-defined]
    by_erp = http.post("/v1/api/invoices/outbound/byerpid/erp-1", json={}, headers=headers).json
    assert by_erp["id"] == document_id and by_erp["currentStatus"]["status"] == "Delivered"
    assert http.post("/v1/api/invoices/outbound/byerpid/erp-2", json={}, headers=headers).status_code == 404
    # A repeated ErpDocumentId is a second document (the service does not deduplicate by it).
    _outbound(http, headers, "erp-1", {"Type": "Electronic", "Electronic": {"RecipientId": company_id}})
    assert len(http.get("/_sandbox/invoices").json) == 2


def test_inexchange_lookup_answers_near_misses_as_potential_matches(http) -> None:  # type: ignore[no-untyped-def]
    http.post("/_sandbox/receivers", json={"org_number": "5567321707", "name": "Köpare AB"})
    headers = _client_token(http)
    near = http.post("/v1/api/buyerparties/lookup", json={"PartyId": "10", "orgNo": "5567320000"},
                     headers=headers).json
    assert near["exactHit"] is False and near["potentialMatches"] == 1
    assert http.post("/v1/api/buyerparties/lookup", json={"orgNo": "5567321707"}, headers=headers).status_code == 400


def test_inexchange_paper_needs_a_complete_address(http) -> None:  # type: ignore[no-untyped-def]
    headers = _client_token(http)
    address = {"Name": "K AB", "StreetName": "V 2", "PostalZone": "41101", "City": ""}
    refused = _outbound(http, headers, "erp-p", {"Type": "Paper", "Paper": {"RecipientAddress": address}})
    assert refused.status_code == 400  # type: ignore[attr-defined]
    address["City"] = "Göteborg"
    assert _outbound(http, headers, "erp-p", {"Type": "Paper", "Paper": {"RecipientAddress": address}}).status_code == 201  # type: ignore[attr-defined]
