from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from invoice_bridge.identifiers import (
    InvalidIdentifier,
    format_bankgiro,
    format_org_number,
    format_plusgiro,
    is_valid_ocr,
    make_ocr,
    normalize_bankgiro,
    normalize_gln,
    normalize_org_number,
    normalize_vat_number,
    vat_number_from_org_number,
)
from stdnum import luhn


def test_org_number_forms_normalise_to_ten_digits() -> None:
    assert normalize_org_number("556012-3456") == "5560123456"
    assert normalize_org_number("16556012-3456") == "5560123456"
    assert normalize_org_number("SE556012345601") == "5560123456"
    assert format_org_number("5560123456") == "556012-3456"
    with pytest.raises(InvalidIdentifier):
        normalize_org_number("556012-3457")  # wrong Luhn digit


def test_vat_number_is_se_plus_twelve_digits() -> None:
    assert vat_number_from_org_number("556012-3456") == "SE556012345601"
    assert normalize_vat_number("SE 556012-3456 01") == "SE556012345601"
    with pytest.raises(InvalidIdentifier):
        normalize_vat_number("SE556012345602")


def test_gln_bankgiro_plusgiro() -> None:
    assert normalize_gln("7300009060115") == "7300009060115"
    with pytest.raises(InvalidIdentifier):
        normalize_gln("7300009060117")
    assert normalize_bankgiro("5050-1055") == "50501055"
    assert format_bankgiro("50501055") == "5050-1055"
    with pytest.raises(InvalidIdentifier):
        normalize_bankgiro("5050-1056")
    assert format_plusgiro("4711115") == "47 11 11-5"


def test_ocr_known_values() -> None:
    # Length digit: base 1234 → "1234" + (6 % 10) → "12346" + Luhn.
    reference = make_ocr("1234", length_digit=True)
    assert reference[:5] == "12346" and len(reference) == 6 and luhn.is_valid(reference)
    assert make_ocr("1234", length_digit=False) == "1234" + luhn.calc_check_digit("1234")
    with pytest.raises(InvalidIdentifier):
        make_ocr("12a4", length_digit=False)


@settings(max_examples=2000, deadline=None)
@given(base=st.integers(min_value=0, max_value=10**22), length_digit=st.booleans())
def test_ocr_is_luhn_valid_with_correct_length_digit(base: int, length_digit: bool) -> None:
    reference = make_ocr(str(base), length_digit=length_digit)
    assert is_valid_ocr(reference, length_digit=length_digit)
    if length_digit:
        assert int(reference[-2]) == len(reference) % 10
    # A single changed digit is always caught by Luhn.
    changed = reference[:-1] + str((int(reference[-1]) + 1) % 10)
    assert not is_valid_ocr(changed, length_digit=length_digit)


@settings(max_examples=2000, deadline=None)
@given(body=st.integers(min_value=100_000_000, max_value=999_999_999))
def test_org_number_luhn(body: int) -> None:
    digits = str(body)
    valid = digits + luhn.calc_check_digit(digits)
    assert normalize_org_number(valid[:6] + "-" + valid[6:]) == valid
    wrong = valid[:-1] + str((int(valid[-1]) + 3) % 10)
    with pytest.raises(InvalidIdentifier):
        normalize_org_number(wrong)


def test_foreign_vat_numbers_and_their_peppol_schemes() -> None:
    from invoice_bridge.identifiers import normalize_foreign_vat_number, vat_endpoint

    assert normalize_foreign_vat_number("de 136 695 976") == "DE136695976"
    assert normalize_foreign_vat_number("SE 556036-0793 01") == "SE556036079301"
    assert normalize_foreign_vat_number("EL094259216") == "EL094259216"
    assert normalize_foreign_vat_number("GB980780684") == "GB980780684"  # outside the EU: form only
    for bad in ("DE136695977", "136695976", "DE", ""):
        with pytest.raises(InvalidIdentifier):
            normalize_foreign_vat_number(bad)
    assert vat_endpoint("DE136695976") == ("9930", "DE136695976")
    assert vat_endpoint("FI20774740") == ("0213", "FI20774740")
    assert vat_endpoint("EL094259216") == ("9933", "EL094259216")
    assert vat_endpoint("SE556036079301") is None  # 9955 was withdrawn: Swedish buyers go by org number


def test_norwegian_and_danish_registration_numbers_and_bic() -> None:
    from invoice_bridge.identifiers import foreign_org_endpoint, normalize_bic

    assert foreign_org_endpoint("NO", "974 760 673") == ("0192", "974760673")
    assert foreign_org_endpoint("NO", "974760674") is None  # mod 11 check digit
    assert foreign_org_endpoint("dk", "13585628") == ("0184", "13585628")
    assert foreign_org_endpoint("DE", "HRB 1234") is None
    assert normalize_bic("esse se ss") == "ESSESESS"
    with pytest.raises(InvalidIdentifier):
        normalize_bic("ESSE")
