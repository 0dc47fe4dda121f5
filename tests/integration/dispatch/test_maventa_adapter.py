"""MaventaOperator over real HTTP against the strict operator sandbox (Maventa's API as it answers)."""

from __future__ import annotations

import io
import logging
import uuid
import zipfile

import httpx
import pytest
from dispatch_support import (
    API_KEY,
    BUYER_ORG,
    COMPANY,
    PDF,
    VENDOR_KEY,
    credentials,
    make_invoice,
    operator_documents,
    set_behaviour,
    set_faults,
    ubl_for,
)
from invoice_bridge.adapters.maventa import MaventaCredentials, MaventaOperator
from invoice_bridge.dispatch import OperatorOutcomeUnknown, OperatorRejected, OperatorUnavailable
from invoice_bridge.models.invoice import PostalAddress
from invoice_bridge.ports import Letter, Receiver

UBL = ubl_for(make_invoice())
PEPPOL = Receiver(eia=f"0007:{BUYER_ORG}", name="Köpare AB")


def uid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def operator(operator_url: str) -> MaventaOperator:
    # A roomy timeout: these tests read answers (the timeout tests build their own 0.5 s operator).
    return MaventaOperator(operator_url, credentials(), timeout=5.0)


def _receiver(operator_url: str, **body: object) -> None:
    httpx.post(f"{operator_url}/_sandbox/receivers", json=body).raise_for_status()


def test_lookup_by_org_number_and_gln(operator: MaventaOperator, operator_url: str) -> None:
    _receiver(operator_url, gln="7300010000001", name="GLN AB")
    receiver = operator.lookup_receiver(BUYER_ORG, None)
    assert receiver is not None and receiver.eia == f"0007:{BUYER_ORG}" and receiver.name == "Köpare AB"
    assert (receiver.operator, receiver.network) == ("PEPPOL", "PEPPOL")
    by_gln = operator.lookup_receiver(None, "7300010000001")
    assert by_gln is not None and by_gln.eia == "0088:7300010000001"
    assert operator.lookup_receiver("5560000000", None) is None


@pytest.mark.parametrize(("network", "operator_code"), [("INTERNAL", "MAVENTA"), ("EXTERNAL", "INEXCHANGE")])
def test_a_buyer_in_another_network_is_routed_to_its_operator_and_delivered(
    operator: MaventaOperator, operator_url: str, network: str, operator_code: str
) -> None:
    """Issue 17.2: the route is the one the lookup returned; pinned to PEPPOL it would fail at Maventa."""
    _receiver(operator_url, org_number="556677-8899", name="Annat Nät AB", network=network, operator=operator_code)
    receiver = operator.lookup_receiver("5566778899", None)
    assert receiver is not None and (receiver.operator, receiver.network) == (operator_code, network)
    sent = operator.send_einvoice(UBL, uid(), receiver)
    assert operator.status(sent.operator_invoice_id).status == "DELIVERED"
    [document] = operator_documents(operator_url)
    assert document["recipient"] == {**document["recipient"], "eia": "0007:5566778899", "operator": operator_code}


def test_the_lookup_prefers_maventas_own_network_as_maventa_does(operator: MaventaOperator, operator_url: str) -> None:
    _receiver(operator_url, org_number="5566778899", name="Två Nät AB", network="EXTERNAL", operator="PAGERO")
    _receiver(operator_url, org_number="5566778899", name="Två Nät AB", network="INTERNAL")
    receiver = operator.lookup_receiver("5566778899", None)
    assert receiver is not None and receiver.network == "INTERNAL"


def test_a_repeated_uuid_is_refused_by_the_service_and_read_by_id(operator: MaventaOperator, operator_url: str) -> None:
    """Issue 17.1: the retry of an upload whose answer was lost is refused; the adapter reads the invoice
    by id and answers it, never a failure."""
    idem = uid()
    first = operator.send_einvoice(UBL, idem, PEPPOL)
    again = operator.send_einvoice(UBL, idem, PEPPOL)
    assert first.operator_invoice_id == again.operator_invoice_id == idem and first.status == "PENDING"
    assert len(operator_documents(operator_url)) == 1


@pytest.mark.parametrize("answer", [{"duplicate_uuid_status": 409}, {"duplicate_uuid_status": 400},
                                    {"duplicate_uuid": "return_existing"}])
def test_every_plausible_answer_to_a_repeated_uuid_ends_in_the_same_invoice(
    operator: MaventaOperator, operator_url: str, answer: dict[str, object]
) -> None:
    set_behaviour(operator_url, **answer)
    idem = uid()
    operator.send_einvoice(UBL, idem, PEPPOL)
    assert operator.send_einvoice(UBL, idem, PEPPOL).operator_invoice_id == idem
    assert len(operator_documents(operator_url)) == 1


def test_find_reads_by_id_and_the_list_has_no_uuid_filter(operator: MaventaOperator, operator_url: str) -> None:
    idem = uid()
    operator.send_einvoice(UBL, idem, PEPPOL)
    found = operator.find(idem)
    assert found is not None and found.operator_invoice_id == idem
    assert operator.find(uid()) is None
    assert operator.status(idem).status == "DELIVERED"


def test_a_409_on_our_id_after_the_upload_was_stored_is_read_back_not_sent_again(
    operator: MaventaOperator, operator_url: str
) -> None:
    # The operator stores the upload and answers 409 on our uuid (its edge replayed the request): the
    # adapter looks the invoice up under our id and takes it as sent (issue 12 §6).
    set_behaviour(operator_url, duplicate_uuid_status=409)
    set_faults(operator_url, accept_then_conflict_rate=1.0)
    idem = uid()
    sent = operator.send_einvoice(UBL, idem, PEPPOL)
    assert sent.operator_invoice_id == idem
    assert [d["uuid"] for d in operator_documents(operator_url)] == [idem]
    assert httpx.get(f"{operator_url}/_sandbox/stats").json()["injected"] == {"accept_then_conflict": 1}


def test_a_refusal_for_an_invoice_that_does_not_exist_fails_with_the_operators_message(
    operator: MaventaOperator,
) -> None:
    with pytest.raises(OperatorRejected) as refused:
        operator.send_einvoice(UBL, "not-a-uuid", PEPPOL)
    assert refused.value.status == 400 and refused.value.message == "uuid is invalid: uuid must be a UUID"


def test_a_letter_carries_our_pdf_as_the_printed_image(operator: MaventaOperator, operator_url: str) -> None:
    letter = Letter(pdf=PDF, xml=UBL, name="Köpare AB",
                    address=PostalAddress(street="Vägen 2", postal_code="41101", city="Göteborg"))
    operator.send_print(letter, uid())
    [document] = operator_documents(operator_url)
    assert document["destination"] == "PRINT" and document["recipient"]["eia"] is None
    assert document["has_pdf"] and document["print_image"] == "own"


def test_print_settings_are_read_from_the_company(operator: MaventaOperator, operator_url: str) -> None:
    assert operator.print_service().enabled and operator.print_service().own_image
    httpx.patch(f"{operator_url}/_sandbox/accounts/{COMPANY}", json={"print": {"use_own_pdf": False}})
    template = operator.print_service()
    assert template.enabled and not template.own_image and "own template" in (template.detail or "")
    httpx.patch(f"{operator_url}/_sandbox/accounts/{COMPANY}", json={"print": {"enabled": False}})
    assert not operator.print_service().enabled


def test_a_letter_is_refused_while_printing_is_off(operator: MaventaOperator, operator_url: str) -> None:
    httpx.patch(f"{operator_url}/_sandbox/accounts/{COMPANY}", json={"print": {"enabled": False}})
    letter = Letter(pdf=PDF, xml=UBL, name="Köpare AB",
                    address=PostalAddress(street="Vägen 2", postal_code="41101", city="Göteborg"))
    with pytest.raises(OperatorRejected) as refused:
        operator.send_print(letter, uid())
    assert refused.value.code == "print_disabled"
    assert operator_documents(operator_url) == []


def test_token_is_cached_per_company(operator_url: str) -> None:
    first = MaventaOperator(operator_url, credentials(), timeout=0.5)
    second = MaventaOperator(operator_url, credentials(), timeout=0.5)
    first.lookup_receiver(BUYER_ORG, None)
    second.find(uid())
    first.find(uid())
    # One token for the company, shared by both adapter objects until it expires.
    assert _token_requests(operator_url) == 1


def _token_requests(operator_url: str) -> int:
    return int(httpx.get(f"{operator_url}/_sandbox/stats").json()["token_requests"])


def test_errors_are_classified_and_carry_no_secrets(
    operator_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = MaventaOperator(operator_url, MaventaCredentials(COMPANY, "wrong-key", VENDOR_KEY), timeout=0.5)
    with pytest.raises(OperatorRejected) as rejected:
        wrong.find(uid())
    assert rejected.value.code == "auth_unauthorized" and rejected.value.status == 401
    operator = MaventaOperator(operator_url, credentials(), timeout=0.5)
    set_faults(operator_url, rate_5xx=1.0, retry_after_seconds=3)
    with pytest.raises(OperatorUnavailable) as unavailable:
        operator.find(uid())
    assert unavailable.value.retry_after_seconds == 3
    set_faults(operator_url, rate_5xx=0.0, accept_then_timeout_rate=1.0)
    with pytest.raises(OperatorOutcomeUnknown) as unknown:
        operator.send_einvoice(UBL, uid(), PEPPOL)
    assert len(operator_documents(operator_url)) == 1  # stored even though we timed out
    set_faults(operator_url, accept_then_timeout_rate=0.0, timeout_rate=1.0)
    with pytest.raises(OperatorUnavailable):  # a read that timed out is safe to repeat later
        operator.status(uid())
    texts = [str(rejected.value), str(unknown.value), repr(credentials()), caplog.text]
    assert not any(secret in text for text in texts for secret in (API_KEY, VENDOR_KEY))


def test_the_zip_holds_the_xml_and_the_pdf(operator: MaventaOperator, operator_url: str) -> None:
    """What Maventa receives for a letter: one invoice XML and our PDF, in a ZIP."""
    letter = Letter(pdf=PDF, xml=UBL, name="Köpare AB",
                    address=PostalAddress(street="Vägen 2", postal_code="41101", city="Göteborg"))
    seen: list[bytes] = []

    def record(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        seen.append(request.read())
        return httpx.Response(201, json={"id": "x", "status": "PENDING", "actions": []})

    recording = MaventaOperator("http://op", MaventaCredentials("c-zip", "k", "v"), transport=httpx.MockTransport(record))
    recording.send_print(letter, "00000000-0000-4000-8000-000000000000")
    body = seen[0]
    start = body.index(b"PK\x03\x04")
    names = zipfile.ZipFile(io.BytesIO(body[start:])).namelist()
    assert sorted(names) == ["invoice.pdf", "invoice.xml"]
