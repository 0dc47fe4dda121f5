"""MaventaOperator over real HTTP against the operator sandbox."""

from __future__ import annotations

import logging

import httpx
import pytest
from dispatch_support import (
    API_KEY,
    BUYER_ORG,
    COMPANY,
    UBL,
    VENDOR_KEY,
    credentials,
    operator_documents,
    set_faults,
)
from invoice_bridge.adapters.maventa import MaventaCredentials, MaventaOperator
from invoice_bridge.dispatch import OperatorOutcomeUnknown, OperatorRejected, OperatorUnavailable


@pytest.fixture
def operator(operator_url: str) -> MaventaOperator:
    return MaventaOperator(operator_url, credentials(), timeout=0.5)


def test_lookup_by_org_number_and_gln(operator: MaventaOperator, operator_url: str) -> None:
    httpx.post(f"{operator_url}/_sandbox/receivers", json={"gln": "7300010000001", "name": "GLN AB"})
    receiver = operator.lookup_receiver(BUYER_ORG, None)
    assert receiver is not None and receiver.eia == f"0007:{BUYER_ORG}" and receiver.name == "Köpare AB"
    by_gln = operator.lookup_receiver(None, "7300010000001")
    assert by_gln is not None and by_gln.eia == "0088:7300010000001"
    assert operator.lookup_receiver("5560000000", None) is None


def test_upload_is_idempotent_by_uuid_and_findable(operator: MaventaOperator, operator_url: str) -> None:
    first = operator.send_einvoice(UBL, "idem-1", f"0007:{BUYER_ORG}")
    again = operator.send_einvoice(UBL, "idem-1", f"0007:{BUYER_ORG}")
    assert first.operator_invoice_id == again.operator_invoice_id and first.status == "PENDING"
    assert len(operator_documents(operator_url)) == 1
    found = operator.find("idem-1")
    assert found is not None and found.operator_invoice_id == first.operator_invoice_id
    assert operator.find("never-sent") is None
    assert operator.status(first.operator_invoice_id).status == "DELIVERED"


def test_print_goes_to_the_print_route(operator: MaventaOperator, operator_url: str) -> None:
    operator.send_print(UBL, "print-1")
    [document] = operator_documents(operator_url)
    assert document["destination"] == "PRINT" and document["recipient"]["eia"] is None


def test_token_is_cached_per_company(operator_url: str) -> None:
    first = MaventaOperator(operator_url, credentials(), timeout=0.5)
    second = MaventaOperator(operator_url, credentials(), timeout=0.5)
    first.lookup_receiver(BUYER_ORG, None)
    second.find("x")
    first.find("y")
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
        wrong.find("x")
    assert rejected.value.code == "auth_unauthorized" and rejected.value.status == 401
    operator = MaventaOperator(operator_url, credentials(), timeout=0.5)
    set_faults(operator_url, rate_5xx=1.0)
    with pytest.raises(OperatorUnavailable):
        operator.find("x")
    set_faults(operator_url, rate_5xx=0.0, accept_then_timeout_rate=1.0)
    with pytest.raises(OperatorOutcomeUnknown) as unknown:
        operator.send_einvoice(UBL, "idem-t", f"0007:{BUYER_ORG}")
    assert len(operator_documents(operator_url)) == 1  # stored even though we timed out
    set_faults(operator_url, accept_then_timeout_rate=0.0, timeout_rate=1.0)
    with pytest.raises(OperatorUnavailable):  # a read that timed out is safe to repeat later
        operator.status("whatever")
    texts = [str(rejected.value), str(unknown.value), repr(credentials()), caplog.text]
    assert not any(secret in text for text in texts for secret in (API_KEY, VENDOR_KEY))
