"""InExchange adapter against the operator sandbox's InExchange API, in process (httpx.WSGITransport):
the two-level auth, upload + send with our id, find by our id, exact-hit lookups, statuses, letters."""

from __future__ import annotations

import json
from typing import Any

import boto3
import httpx
import pytest
from invoice_bridge import wiring
from invoice_bridge.adapters.inexchange import (
    InExchangeOperator,
    InExchangePartnerApi,
    RenewingClientToken,
)
from invoice_bridge.dispatch import OperatorRejected, OperatorUnavailable
from invoice_bridge.models.invoice import PostalAddress
from invoice_bridge.models.issuer import Address, Issuer
from invoice_bridge.ports import Letter, Receiver
from moto import mock_aws

from sandbox.operator import OperatorState, create_app

PARTNER = "partner-key-secret"
BASE = "http://inexchange.test"
UBL = b"""<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"><cbc:ID>1001</cbc:ID></Invoice>"""
LETTER = Letter(pdf=b"%PDF-1.7 ours", xml=UBL, name="Köpare AB",
                address=PostalAddress(street="Vägen 2", postal_code="411 01", city="Göteborg"))


class Recorder(httpx.BaseTransport):
    """The sandbox app in process, remembering every request."""

    def __init__(self, state: OperatorState):
        self.inner = httpx.WSGITransport(app=create_app(state))
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


@pytest.fixture
def state() -> OperatorState:
    state = OperatorState(partner_api_key=PARTNER)
    app = create_app(state).test_client()
    app.post("/_sandbox/receivers", json={"org_number": "556732-1707", "gln": "7350000000005", "name": "Köpare AB"})
    app.post("/_sandbox/inexchange/clients", json={"erp_id": "issuer-1"})
    return state


@pytest.fixture
def transport(state: OperatorState) -> Recorder:
    return Recorder(state)


@pytest.fixture
def partner(transport: Recorder) -> InExchangePartnerApi:
    return InExchangePartnerApi(BASE, PARTNER, transport=transport)


@pytest.fixture
def operator(transport: Recorder, partner: InExchangePartnerApi) -> InExchangeOperator:
    return InExchangeOperator(BASE, partner.create_client_token("issuer-1"), transport=transport)


def test_einvoice_is_uploaded_then_sent_with_our_id(operator: InExchangeOperator, transport: Recorder) -> None:
    receiver = operator.lookup_receiver("5567321707", None)
    assert receiver is not None and (receiver.operator, receiver.network) == ("INEXCHANGE", "INEXCHANGE")
    document = operator.send_einvoice(UBL, "idem-1", receiver)
    assert document.status == "PENDING"
    send = transport.requests[-1]
    body = json.loads(send.content)
    assert body["SendDocumentAs"] == {"Type": "Electronic", "Electronic": {"RecipientId": receiver.eia}}
    assert body["Document"]["ErpDocumentId"] == "idem-1" and body["Document"]["DocumentFormat"] == "bis3"
    assert operator.status(document.operator_invoice_id).status == "DELIVERED"


def test_a_letter_is_our_pdf_to_the_address_on_our_invoice(operator: InExchangeOperator, transport: Recorder,
                                                          state: OperatorState) -> None:
    """Issue 17.3: the paper letter carries our PDF as the rendered document, addressed from our invoice
    (not from the e-invoice, which a private buyer may not get)."""
    operator.send_print(LETTER, "idem-print")
    body = json.loads(transport.requests[-1].content)
    assert body["SendDocumentAs"]["Paper"]["RecipientAddress"] == {
        "Name": "Köpare AB", "StreetName": "Vägen 2", "PostalZone": "411 01", "City": "Göteborg", "CountryCode": "SE"}
    assert body["Document"]["RenderedDocumentFormat"] == "application/pdf"
    pdf_id = body["Document"]["RenderedDocumentUri"].rsplit("/", 1)[-1]
    assert state.uploads[pdf_id]["body"] == LETTER.pdf
    [document] = state.invoices.values()
    assert document["destination"] == "PRINT" and document["print_image"] == "own"


def test_a_sent_invoice_is_found_by_our_id_not_by_paging(operator: InExchangeOperator, transport: Recorder) -> None:
    receiver = operator.lookup_receiver("5567321707", None)
    assert receiver is not None
    for n in range(30):
        operator.send_einvoice(UBL, f"other-{n}", receiver)
    sent = operator.send_einvoice(UBL, "ours", receiver)
    before = len(transport.requests)
    found = operator.find("ours")
    assert found is not None and found.operator_invoice_id == sent.operator_invoice_id
    assert transport.paths()[before:] == ["/v1/api/invoices/outbound/byerpid/ours"]
    assert operator.find("never-sent") is None


def test_lookup_keeps_exact_hits_only(operator: InExchangeOperator) -> None:
    assert operator.lookup_receiver(None, "7350000000005") is not None
    # Same first six digits: InExchange answers a potential match, exactHit false: another company.
    assert operator.lookup_receiver("5567320000", None) is None
    assert operator.lookup_receiver(None, None) is None


def test_an_unknown_status_is_reported_not_pending(operator: InExchangeOperator, transport: Recorder,
                                                   state: OperatorState) -> None:
    state.faults.unknown_status_rate = 1.0
    receiver = operator.lookup_receiver("5567321707", None)
    assert receiver is not None
    document = operator.send_einvoice(UBL, "idem-odd", receiver)
    status = operator.status(document.operator_invoice_id)
    assert status.status == "UNKNOWN" and status.message == "InExchange reports the status 'Parked'"


def test_a_refused_client_token_is_renewed_from_the_partner_key_once(
    partner: InExchangePartnerApi, transport: Recorder, state: OperatorState
) -> None:
    """Issue 17.4: a 401 gets a new client token (created for our id), stored for the next call."""
    store = MemoryCredentials({"issuer-1": ("inexchange", {"client_token": partner.create_client_token("issuer-1")})})
    tokens = RenewingClientToken("issuer-1", store.load("issuer-1")[1]["client_token"], store, lambda: partner)  # type: ignore[index]
    operator = InExchangeOperator(BASE, tokens, transport=transport)
    state.clients["issuer-1"].tokens.clear()  # InExchange stops taking it
    assert operator.lookup_receiver("5567321707", None) is not None
    renewed = store.load("issuer-1")[1]["client_token"]  # type: ignore[index]
    assert renewed in state.clients["issuer-1"].tokens and tokens.current() == renewed
    assert transport.paths().count("/v1/api/clientTokens/create") == 2
    state.clients["issuer-1"].tokens.clear()
    without_partner = InExchangeOperator(BASE, RenewingClientToken("issuer-1", renewed, store, lambda: None),
                                         transport=transport)
    with pytest.raises(OperatorRejected) as refused:
        without_partner.lookup_receiver("5567321707", None)
    assert refused.value.status == 401 and renewed not in str(refused.value)


def test_refusals_carry_the_reason_and_try_later_the_delay(operator: InExchangeOperator, state: OperatorState) -> None:
    receiver = Receiver(eia="no-such-company", name="X", operator="INEXCHANGE")
    with pytest.raises(OperatorRejected) as refused:
        operator.send_einvoice(UBL, "idem-3", receiver)
    assert refused.value.message == "The request is invalid. Unknown or non-receiving RecipientId."
    state.faults.rate_429, state.faults.retry_after_seconds = 1.0, 30
    with pytest.raises(OperatorUnavailable) as later:
        operator.find("idem-3")
    assert later.value.retry_after_seconds == 30
    assert state.invoices == {}


def test_a_refused_repeat_of_ours_is_read_by_our_id(operator: InExchangeOperator, state: OperatorState) -> None:
    state.behaviour.inexchange_duplicate_erp_id = "refuse"
    receiver = operator.lookup_receiver("5567321707", None)
    assert receiver is not None
    first = operator.send_einvoice(UBL, "idem-5", receiver)
    assert operator.send_einvoice(UBL, "idem-5", receiver).operator_invoice_id == first.operator_invoice_id
    assert len(state.invoices) == 1


class MemoryCredentials:
    """The OperatorCredentialStore port in memory (the KMS one is tested against moto)."""

    def __init__(self, items: dict[str, tuple[str, dict[str, str]]]):
        self.items = items

    def save(self, issuer_id: str, provider: str, credentials: dict[str, str]) -> None:
        self.items[issuer_id] = (provider, dict(credentials))

    def load(self, issuer_id: str) -> tuple[str, dict[str, str]] | None:
        return self.items.get(issuer_id)

    def delete(self, issuer_id: str) -> None:
        self.items.pop(issuer_id, None)


def test_wiring_builds_a_renewing_inexchange_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-north-1")
        dynamodb.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("PK", "SK")],
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        )
        key_id = boto3.client("kms", region_name="eu-north-1").create_key()["KeyMetadata"]["KeyId"]
        for name, value in {"TABLE_NAME": "t", "TOKEN_KEY_ID": key_id, "AWS_REGION": "eu-north-1",
                            "INEXCHANGE_URL": "https://testapi.inexchange.se"}.items():
            monkeypatch.setenv(name, value)
        wiring.reset()
        try:
            issuer = Issuer(name="U AB", org_number="5560360793", notification_email="byra@example.com",
                            address=Address(street="Gatan 1", postal_code="11122", city="Stockholm"))
            wiring.operator_credentials().save(issuer.id, "inexchange", {"client_token": "tok-1"})
            operator: Any = wiring.operator_for(issuer)
            assert isinstance(operator, InExchangeOperator)
            assert isinstance(operator._tokens, RenewingClientToken) and operator._tokens.current() == "tok-1"
            assert str(operator._client.base_url) == "https://testapi.inexchange.se"
            assert wiring.inexchange_partner() is None  # no partner key stored: tokens cannot be renewed
        finally:
            wiring.reset()
