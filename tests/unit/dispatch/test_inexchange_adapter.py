"""InExchange adapter against an in-process fake of the partner API (httpx.MockTransport).

InExchange offers no public sandbox, so the fake follows the calls documented in reference/einvoice.md §2:
ClientToken header, upload → 201 Location, outbound send with ErpDocumentId, outbound list, status, lookup.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import boto3
import httpx
import pytest
from invoice_bridge import wiring
from invoice_bridge.adapters.inexchange import InExchangeOperator, buyer_postal_address
from invoice_bridge.dispatch import OperatorOutcomeUnknown, OperatorRejected, OperatorUnavailable
from invoice_bridge.models.issuer import Address, Issuer
from moto import mock_aws

TOKEN = "client-token-secret-123"
BASE = "https://testapi.inexchange.se"
UBL = b"""<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
 <cbc:ID>1001</cbc:ID>
 <cac:AccountingCustomerParty><cac:Party>
  <cac:PartyName><cbc:Name>K\xc3\xb6pare AB</cbc:Name></cac:PartyName>
  <cac:PostalAddress><cbc:StreetName>V\xc3\xa4gen 2</cbc:StreetName><cbc:CityName>G\xc3\xb6teborg</cbc:CityName>
   <cbc:PostalZone>41101</cbc:PostalZone><cac:Country><cbc:IdentificationCode>SE</cbc:IdentificationCode></cac:Country>
  </cac:PostalAddress>
 </cac:Party></cac:AccountingCustomerParty>
</Invoice>"""


@dataclass
class FakeInExchange:
    """Stores uploads and outbound documents; `fail_next` answers the next call on a path with a fault."""

    uploads: dict[str, bytes] = field(default_factory=dict)
    outbound: list[dict] = field(default_factory=list)  # type: ignore[type-arg]
    requests: list[httpx.Request] = field(default_factory=list)
    parties: list[dict] = field(default_factory=list)  # type: ignore[type-arg]
    fail_next: dict[str, str] = field(default_factory=dict)  # path -> "timeout" | "500" | "400"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("ClientToken") != TOKEN:
            return httpx.Response(401, json={"message": "Authorization has been denied for this request."})
        path = request.url.path
        fault = self.fail_next.pop(path, None)
        if fault == "500":
            return httpx.Response(500, json={"message": "An error has occurred."})
        if fault == "400":
            return httpx.Response(
                400,
                json={"message": "The request is invalid.",
                      "modelState": {"document.DocumentUri": ["The DocumentUri field is required."]}},
            )
        if fault == "timeout-before":
            raise httpx.ReadTimeout("timed out", request=request)
        if path == "/v1/api/documents":
            document_id = f"upl-{len(self.uploads) + 1}"
            self.uploads[document_id] = request.content
            return httpx.Response(201, headers={"Location": f"{BASE}/v1/api/documents/{document_id}"})
        body = json.loads(request.content or b"{}")
        if path == "/v1/api/documents/outbound":
            document = {
                "id": f"out-{len(self.outbound) + 1}",
                "erpDocumentId": body["Document"]["ErpDocumentId"],
                "currentStatus": {"status": "PendingInPlatform"},
                "request": body,
            }
            self.outbound.append(document)
            if fault == "timeout":  # stored, then the answer is lost
                raise httpx.ReadTimeout("timed out", request=request)
            return httpx.Response(201, headers={"Location": f"{BASE}/v1/api/documents/outbound/{document['id']}"})
        if path == "/v1/api/documents/outbound/list":
            page = self.outbound[::-1][body["skip"] : body["skip"] + body["take"]]
            return httpx.Response(200, json={"documents": page, "totalCount": len(self.outbound)})
        if path.startswith("/v1/api/invoices/outbound/"):
            wanted = path.rsplit("/", 1)[-1]
            return httpx.Response(200, json=next(d for d in self.outbound if d["id"] == wanted))
        if path == "/v1/api/buyerparties/lookup":
            assert body["PartyId"]
            hits = [p for p in self.parties if p["orgNo"] == body.get("orgNo") or p.get("gln") == body.get("gln")]
            return httpx.Response(200, json={"parties": hits, "potentialMatches": len(hits), "exactHit": len(hits) == 1})
        return httpx.Response(404, json={"message": "No HTTP resource was found."})


@pytest.fixture
def fake() -> FakeInExchange:
    return FakeInExchange()


@pytest.fixture
def operator(fake: FakeInExchange) -> InExchangeOperator:
    return InExchangeOperator(BASE, TOKEN, transport=httpx.MockTransport(fake))


def test_einvoice_is_uploaded_then_sent_with_our_id(operator: InExchangeOperator, fake: FakeInExchange) -> None:
    document = operator.send_einvoice(UBL, "idem-1", "company-42")
    assert document.operator_invoice_id == "out-1" and document.status == "PENDING"
    upload, send = fake.requests
    assert upload.headers["Content-Type"] == "application/xml" and fake.uploads["upl-1"] == UBL
    assert all(r.headers["ClientToken"] == TOKEN for r in fake.requests)
    body = json.loads(send.content)
    assert body["SendDocumentAs"] == {"Type": "Electronic", "Electronic": {"RecipientId": "company-42"}}
    assert body["Document"]["ErpDocumentId"] == "idem-1"
    assert body["Document"]["DocumentUri"] == f"{BASE}/v1/api/documents/upl-1"
    assert body["Document"]["DocumentFormat"] == "bis3"


def test_print_carries_the_buyer_address_from_the_ubl(operator: InExchangeOperator, fake: FakeInExchange) -> None:
    operator.send_print(UBL, "idem-print")
    send_as = fake.outbound[0]["request"]["SendDocumentAs"]
    assert send_as["Type"] == "Paper"
    assert send_as["Paper"]["RecipientAddress"] == {
        "Name": "Köpare AB", "StreetName": "Vägen 2", "PostalZone": "41101", "City": "Göteborg", "CountryCode": "SE",
    }
    assert buyer_postal_address(UBL)["City"] == "Göteborg"


def test_lost_answer_to_the_send_is_unknown_and_found_by_our_id(
    operator: InExchangeOperator, fake: FakeInExchange
) -> None:
    fake.fail_next["/v1/api/documents/outbound"] = "timeout"
    with pytest.raises(OperatorOutcomeUnknown):
        operator.send_einvoice(UBL, "idem-2", "company-42")
    found = operator.find("idem-2")
    assert found is not None and found.operator_invoice_id == "out-1"
    assert operator.find("never-sent") is None


def test_find_pages_through_the_outbound_list(operator: InExchangeOperator, fake: FakeInExchange) -> None:
    fake.outbound.extend(
        {"id": f"old-{n}", "erpDocumentId": f"e-{n}", "currentStatus": {"status": "Sent"}} for n in range(250)
    )
    found = operator.find("e-0")  # the oldest: third page
    assert found is not None and found.operator_invoice_id == "old-0" and found.status == "DELIVERED"
    lists = [r for r in fake.requests if r.url.path.endswith("/outbound/list")]
    assert [json.loads(r.content)["skip"] for r in lists] == [0, 100, 200]


def test_upload_faults_are_unavailable_and_refusals_carry_the_reason_not_the_token(
    operator: InExchangeOperator, fake: FakeInExchange
) -> None:
    fake.fail_next["/v1/api/documents"] = "timeout-before"
    with pytest.raises(OperatorUnavailable):
        operator.send_einvoice(UBL, "idem-3", "company-42")
    fake.fail_next["/v1/api/documents"] = "500"
    with pytest.raises(OperatorUnavailable):
        operator.send_einvoice(UBL, "idem-3", "company-42")
    fake.fail_next["/v1/api/documents/outbound"] = "400"
    with pytest.raises(OperatorRejected) as refused:
        operator.send_einvoice(UBL, "idem-3", "company-42")
    assert refused.value.message == "The request is invalid. The DocumentUri field is required."
    assert TOKEN not in str(refused.value) and TOKEN not in repr(operator)
    assert fake.outbound == []
    wrong = InExchangeOperator(BASE, "wrong", transport=httpx.MockTransport(fake))
    with pytest.raises(OperatorRejected) as unauthorised:
        wrong.status("out-1")
    assert unauthorised.value.code == "unauthorized" and unauthorised.value.status == 401


@pytest.mark.parametrize(
    ("inexchange_status", "ours"),
    [("PendingInPlatform", "PENDING"), ("Pending", "PENDING"), ("Sent", "DELIVERED"),
     ("Delivered", "DELIVERED"), ("Error", "FAILED"), ("Stopped", "FAILED")],
)
def test_status_mapping(operator: InExchangeOperator, fake: FakeInExchange, inexchange_status: str, ours: str) -> None:
    operator.send_einvoice(UBL, "idem-4", "company-42")
    fake.outbound[0]["currentStatus"] = {"status": inexchange_status}
    fake.outbound[0]["error"] = {"message": "Recipient unknown"} if ours == "FAILED" else None
    document = operator.status("out-1")
    assert document.status == ours
    assert document.message == ("Recipient unknown" if ours == "FAILED" else None)


def test_lookup_needs_one_receiving_company(operator: InExchangeOperator, fake: FakeInExchange) -> None:
    receiving = {"companyId": "c-1", "name": "Köpare AB", "orgNo": "5567321707", "gln": "7350000000005",
                 "receiveElectronicInvoiceCapability": "ReceivingElectronicInvoices"}
    fake.parties.append(receiving)
    fake.parties.append({**receiving, "companyId": "c-2", "orgNo": "5560000000",
                         "receiveElectronicInvoiceCapability": "NotReceivingElectronicInvoices"})
    receiver = operator.lookup_receiver("5567321707", None)
    assert receiver is not None and (receiver.eia, receiver.operator) == ("c-1", "INEXCHANGE")
    assert operator.lookup_receiver(None, "7350000000005") == receiver
    assert operator.lookup_receiver("5560000000", None) is None  # found, but cannot receive e-invoices
    fake.parties.append({**receiving, "companyId": "c-3", "gln": None})
    assert operator.lookup_receiver("5567321707", None) is None  # ambiguous: two receiving companies
    assert operator.lookup_receiver(None, None) is None


def test_wiring_builds_the_inexchange_operator_from_stored_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-north-1")
        dynamodb.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("PK", "SK")],
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        )
        key_id = boto3.client("kms", region_name="eu-north-1").create_key()["KeyMetadata"]["KeyId"]
        monkeypatch.setenv("TABLE_NAME", "t")
        monkeypatch.setenv("TOKEN_KEY_ID", key_id)
        monkeypatch.setenv("AWS_REGION", "eu-north-1")
        wiring.reset()
        try:
            issuer = Issuer(name="U AB", org_number="5560360793", notification_email="byra@example.com",
                            address=Address(street="Gatan 1", postal_code="11122", city="Stockholm"))
            wiring.operator_credentials().save(issuer.id, "inexchange", {"client_token": TOKEN})
            operator = wiring.operator_for(issuer)
            assert isinstance(operator, InExchangeOperator)
            assert operator._client.headers["ClientToken"] == TOKEN
            assert str(operator._client.base_url) == "https://api.inexchange.com"
        finally:
            wiring.reset()
