"""The default-company trap: the connected company must be the issuer's, whatever format Spiris uses."""

from __future__ import annotations

import jwt
import pytest
from invoice_bridge.consent.flow import customer_id_claim, same_company
from invoice_bridge.identifiers import org_number_or_none


@pytest.mark.parametrize("spiris_value", ["556036-0793", "5560360793", " 556036 0793 ", "SE556036079301"])
def test_same_company_across_formats(spiris_value: str) -> None:
    assert same_company("5560360793", spiris_value)


@pytest.mark.parametrize("spiris_value", ["556559-4230", None, "", "556036-0794", "garbage"])
def test_other_or_missing_org_number_is_not_the_issuer(spiris_value: str | None) -> None:
    assert not same_company("5560360793", spiris_value)


def test_normalise_rejects_bad_check_digit() -> None:
    assert org_number_or_none("556036-0793") == "5560360793"
    assert org_number_or_none("556036-0794") is None


def test_customer_id_is_read_from_the_jwt_without_verifying() -> None:
    token = jwt.encode(
        {"customer_id": "c0ffee", "sub": "u"}, "any-key-at-all-32-bytes-long-xxxx", algorithm="HS256"
    )
    assert customer_id_claim(token) == "c0ffee"
    assert customer_id_claim("not-a-jwt") is None
