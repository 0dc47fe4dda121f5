"""Swedish identifiers: organisation number, VAT number, OCR reference, GLN, bankgiro, plusgiro; and
the e-mail address we send to.

python-stdnum does the checking where it has a module (se.orgnr, se.vat, luhn, ean). It has no released
bankgiro module (einvoice.md §4.5), so bankgiro/plusgiro are length + Luhn checks of our own.

stdnum is imported where a check runs, not with this module: `import stdnum` loads its utilities (pydoc,
pkgutil, unicodedata), and the functions that import this module for its names (settings, the poll, the
tracker, SES events) check no identifier at their cold start, most never (issue 15).
"""

from __future__ import annotations

import re

OCR_MIN_LENGTH = 2
OCR_MAX_LENGTH = 25


class InvalidIdentifier(ValueError):
    """An identifier that is not well formed or fails its check digit."""


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value or "")


def normalize_org_number(value: str) -> str:
    """A Swedish organisation number as 10 digits (accepts `556012-3456`, `16556012-3456`, `SE5560123456 01`)."""
    digits = _digits(value)
    if len(digits) == 12 and digits.endswith("01") and value.strip().upper().startswith("SE"):
        digits = digits[:10]  # a VAT number given where the org number was expected
    elif len(digits) == 12 and digits.startswith("16"):
        digits = digits[2:]  # the century-style prefix used for legal entities
    from stdnum.exceptions import ValidationError
    from stdnum.se import orgnr as se_orgnr

    try:
        return se_orgnr.validate(digits)
    except ValidationError as exc:
        raise InvalidIdentifier(f"invalid organisation number: {value!r}") from exc


def org_number_or_none(value: str | None) -> str | None:
    """`normalize_org_number`, or None when `value` is empty or not a Swedish organisation number (a
    value read from elsewhere, e.g. Spiris' company settings, compared rather than trusted)."""
    if not value:
        return None
    try:
        return normalize_org_number(value)
    except InvalidIdentifier:
        return None


def is_valid_org_number(value: str) -> bool:
    return org_number_or_none(value) is not None


def format_org_number(value: str) -> str:
    """`5560123456` → `556012-3456` (as printed on Swedish invoices)."""
    from stdnum.se import orgnr as se_orgnr

    return se_orgnr.format(normalize_org_number(value))


def vat_number_from_org_number(org_number: str) -> str:
    """The Swedish VAT number of a legal entity: SE + org number + 01 (14 characters, as Peppol wants)."""
    return f"SE{normalize_org_number(org_number)}01"


def normalize_vat_number(value: str) -> str:
    """`SE 556012-3456 01` → `SE556012345601`; Peppol SE-R-001/002 want `SE` + 12 digits."""
    from stdnum.exceptions import ValidationError
    from stdnum.se import vat as se_vat

    try:
        compact = se_vat.validate(value)  # stdnum strips the SE prefix
    except ValidationError as exc:
        raise InvalidIdentifier(f"invalid Swedish VAT number: {value!r}") from exc
    return f"SE{compact}"


def normalize_gln(value: str) -> str:
    """A GLN is a 13-digit GS1 number; stdnum's EAN check digit covers it."""
    digits = _digits(value)
    if len(digits) != 13:
        raise InvalidIdentifier(f"a GLN has 13 digits: {value!r}")
    from stdnum import ean
    from stdnum.exceptions import ValidationError

    try:
        return ean.validate(digits)
    except ValidationError as exc:
        raise InvalidIdentifier(f"invalid GLN check digit: {value!r}") from exc


def normalize_bankgiro(value: str) -> str:
    """Bankgiro: 7 or 8 digits, last digit Luhn (einvoice.md §4.4)."""
    from stdnum import luhn

    digits = _digits(value)
    if len(digits) not in (7, 8) or not luhn.is_valid(digits):
        raise InvalidIdentifier(f"invalid bankgiro number: {value!r}")
    return digits


def format_bankgiro(value: str) -> str:
    """`58056201` → `5805-6201`, `1234566` → `123-4566`."""
    digits = normalize_bankgiro(value)
    return f"{digits[:-4]}-{digits[-4:]}"


def normalize_plusgiro(value: str) -> str:
    """Plusgiro: 2-8 digits, last digit Luhn."""
    from stdnum import luhn

    digits = _digits(value)
    if not 2 <= len(digits) <= 8 or not luhn.is_valid(digits):
        raise InvalidIdentifier(f"invalid plusgiro number: {value!r}")
    return digits


def format_plusgiro(value: str) -> str:
    """`4711112` → `47 11 11-2` (pairs from the right, hyphen before the check digit)."""
    digits = normalize_plusgiro(value)
    body = digits[:-1]
    pairs: list[str] = []
    while body:
        pairs.insert(0, body[-2:])
        body = body[:-2]
    return f"{' '.join(pairs)}-{digits[-1]}"


def make_ocr(base: str, *, length_digit: bool) -> str:
    """An OCR reference from a numeric base: optional length digit, then the Luhn check digit.

    The length digit is the total length including both control digits, mod 10; the Luhn digit is computed
    over everything including the length digit (Bankgirot, banktools-se).
    """
    from stdnum import luhn

    digits = _digits(base)
    if not digits or digits != base.strip():
        raise InvalidIdentifier(f"an OCR base is digits only: {base!r}")
    if length_digit:
        digits += str((len(digits) + 2) % 10)
    reference = digits + luhn.calc_check_digit(digits)
    if not OCR_MIN_LENGTH <= len(reference) <= OCR_MAX_LENGTH:
        raise InvalidIdentifier(f"an OCR reference has 2-25 digits, got {len(reference)}")
    return reference


def is_valid_ocr(reference: str, *, length_digit: bool) -> bool:
    """Check digit (Luhn) and, for the variable-length variant, the length digit."""
    from stdnum import luhn

    if not reference.isdigit() or not OCR_MIN_LENGTH <= len(reference) <= OCR_MAX_LENGTH:
        return False
    if not luhn.is_valid(reference):
        return False
    if length_digit:
        return len(reference) >= 3 and int(reference[-2]) == len(reference) % 10
    return True


# --- Peppol electronic addresses (EAS, the `schemeID` of cbc:EndpointID) ------------------------------

EAS_SE_ORG_NUMBER = "0007"
EAS_GLN = "0088"
EAS_NO_ORG_NUMBER = "0192"
EAS_DK_CVR = "0184"
# A VAT number's country → its EAS code (Peppol code list "eas"; 9955, the Swedish VAT scheme, was removed in
# BIS 3.0.15, so a Swedish buyer is addressed by its org number instead). The value keeps the country prefix.
EAS_BY_VAT_COUNTRY = {
    "AD": "9922", "AL": "9923", "AT": "9914", "BA": "9924", "BE": "9925", "BG": "9926", "CH": "9927",
    "CY": "9928", "CZ": "9929", "DE": "9930", "DK": "0198", "EE": "9931", "EL": "9933", "ES": "9920",
    "FI": "0213", "FR": "9957", "GB": "9932", "GR": "9933", "HR": "9934", "HU": "9910", "IE": "9935",
    "IT": "0211", "LI": "9936", "LT": "9937", "LU": "9938", "LV": "9939", "MC": "9940", "ME": "9941",
    "MK": "9942", "MT": "9943", "NL": "9944", "PL": "9945", "PT": "9946", "RO": "9947", "RS": "9948",
    "SI": "9949", "SK": "9950", "SM": "9951", "TR": "9952", "VA": "9953",
}
# Member states by the prefix of their VAT numbers (Greece: EL; Northern Ireland's XI only for goods).
EU_VAT_PREFIXES = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU", "IE", "IT", "LT",
    "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
})
# Member states by ISO 3166 country code (as addresses carry them).
EU_COUNTRIES = (EU_VAT_PREFIXES - {"EL"}) | {"GR"}


def normalize_foreign_vat_number(value: str) -> str:
    """A VAT number with its country prefix, compact and upper case (`de 123 456 789` → `DE123456789`).

    EU numbers are checked with python-stdnum (check digits where the country has them); other countries'
    only for a two-letter prefix and at least one digit, which is what EN 16931 (BR-CO-09) asks.
    """
    compact = re.sub(r"[\s.\-]", "", value or "").upper()
    prefix = compact[:2]
    if not re.fullmatch(r"[A-Z]{2}[0-9A-Z+*]*[0-9][0-9A-Z+*]*", compact):
        raise InvalidIdentifier(f"a VAT number starts with its country code: {value!r}")
    if prefix == "SE":
        return normalize_vat_number(compact)
    if prefix in EU_VAT_PREFIXES:
        from stdnum.eu import vat as eu_vat  # imports every member state's module: only when needed
        from stdnum.exceptions import ValidationError

        try:
            return f"{prefix}{eu_vat.validate(compact)[2:]}"
        except ValidationError as exc:
            raise InvalidIdentifier(f"invalid {prefix} VAT number: {value!r}") from exc
    return compact


def vat_endpoint(vat_number: str) -> tuple[str, str] | None:
    """The Peppol address (EAS, id) a company is reachable at by its VAT number, if its country has one."""
    scheme = EAS_BY_VAT_COUNTRY.get(vat_number[:2].upper())
    return (scheme, vat_number.upper()) if scheme else None


def foreign_org_endpoint(country: str, identifier: str) -> tuple[str, str] | None:
    """A Norwegian (0192) or Danish (0184) company's Peppol address from its registration number: the two
    schemes the Peppol rules check (PEPPOL-COMMON-R041/R042), so only a valid number is used."""
    from stdnum.dk import cvr
    from stdnum.exceptions import ValidationError
    from stdnum.no import orgnr as no_orgnr

    checkers = {"NO": (EAS_NO_ORG_NUMBER, no_orgnr), "DK": (EAS_DK_CVR, cvr)}
    if country.upper() not in checkers:
        return None
    scheme, module = checkers[country.upper()]
    try:
        return scheme, module.validate(identifier)
    except ValidationError:
        return None


def normalize_bic(value: str) -> str:
    """A BIC (ISO 9362): 8 or 11 characters, upper case."""
    from stdnum import bic
    from stdnum.exceptions import ValidationError

    try:
        return str(bic.validate(value))
    except ValidationError as exc:
        raise InvalidIdentifier(f"invalid BIC: {value!r}") from exc


def normalize_email_address(value: str) -> str:
    """One deliverable-looking e-mail address in the form SES takes (ASCII, the domain in punycode), checked
    by email-validator without DNS. Raises InvalidIdentifier for anything else: two addresses, a display
    name, a line break, an internationalised local part (SES cannot send to one)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidIdentifier(f"invalid e-mail address: {exc}") from None
    return str(checked.ascii_email or checked.normalized)
