"""One Spiris invoice per VAT case a Swedish issuer meets (reference/vat-cases.md), and a credit note of each.

The customers and invoices are `CustomerApi` / `CustomerInvoiceApi` objects as Spiris returns them, built with
`seed.invoice` so that rows, VAT specification and totals (in the invoice currency and in SEK) add up. They
feed the case matrix test (sync → render → validation), the reference images under docs/invoices/ and the
demo's VAT cases. Every identifier is valid (Luhn, mod 11, EU VAT check digits, GS1).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .seed import RowSpec, invoice, org_number

D = Decimal
INVOICE_DATE = date(2026, 11, 2)

# The issuer (POST /issuers body): IBAN and BIC for buyers abroad.
ISSUER = {
    "name": "Snickeri Nordin AB",
    "org_number": "5560123456",
    "vat_number": "SE556012345601",
    "address": {"street": "Verkstadsvägen 4", "postal_code": "123 45", "city": "Solna", "country": "SE"},
    "notification_email": "ekonomi@snickerinordin.se",
    "language": "sv",
    "bankgiro": "5805-6201",
    "iban": "SE4550000000058398257466",
    "bic": "ESSESESS",
    "f_skatt": True,
}

# Personal identity numbers of the ROT and RUT buyers (valid check digits, invented persons).
ROT_PERSON = "19450505-1237"
RUT_PERSON = "19521120-4564"


def _customer(name: str, number: str, country: str = "SE", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"vat-case-customer:{name}")),
        "CustomerNumber": number,
        "Name": name,
        "IsPrivatePerson": False,
        "IsActive": True,
        "EmailAddress": f"faktura@{number}.example",
        "InvoiceAddress1": "Storgatan 1",
        "InvoicePostalCode": "111 22",
        "InvoiceCity": "Stockholm",
        "InvoiceCountryCode": country,
        "CurrencyCode": "SEK",
        "SalesDocumentLanguage": "sv" if country == "SE" else "en",
    }
    body.update(fields)
    return body


CUSTOMERS = {
    "se": _customer("Kund AB", "20", CorporateIdentityNumber="556036-0793", VatNumber="SE556036079301"),
    "builder": _customer("Byggbolaget i Norr AB", "21", CorporateIdentityNumber="556234-5677",
                         VatNumber="SE556234567701", ReverseChargeOnConstructionServices=True, InvoiceCity="Umeå"),
    "de": _customer("Muster Handels GmbH", "22", "DE", VatNumber="DE136695976", InvoiceAddress1="Hauptstraße 5",
                    InvoicePostalCode="10115", InvoiceCity="Berlin"),
    "fi": _customer("Esimerkki Oy", "23", "FI", VatNumber="FI20774740", InvoiceAddress1="Esplanadi 1",
                    InvoicePostalCode="00130", InvoiceCity="Helsinki"),
    "no": _customer("Nordmann Handel AS", "24", "NO", CorporateIdentityNumber="974760673",
                    InvoiceAddress1="Karl Johans gate 1", InvoicePostalCode="0154", InvoiceCity="Oslo"),
    "us": _customer("Acme Corporation", "25", "US", EdiGlnNumber="0614141000036", InvoiceAddress1="1 Main Street",
                    InvoicePostalCode="10001", InvoiceCity="New York"),
    "rot": _customer("Anna Svensson", "26", IsPrivatePerson=True, EmailAddress="anna.svensson@example.se",
                     InvoiceAddress1="Björkvägen 7", InvoicePostalCode="183 50", InvoiceCity="Täby"),
    "rut": _customer("Bengt Berg", "27", IsPrivatePerson=True, EmailAddress="bengt.berg@example.se",
                     InvoiceAddress1="Ringvägen 100, lgh 1102", InvoicePostalCode="118 60", InvoiceCity="Stockholm"),
}


@dataclass(frozen=True)
class VatCase:
    name: str
    customer: str  # key of CUSTOMERS
    rows: tuple[RowSpec, ...]
    currency: str = "SEK"
    legal_wording: tuple[str, ...] = ()  # what the PDF must say (Swedish documents unless the buyer is abroad)
    fields: tuple[tuple[str, Any], ...] = ()  # more CustomerInvoiceApi fields


def _rows(*rows: RowSpec) -> tuple[RowSpec, ...]:
    return rows


CASES = (
    VatCase("domestic_25", "se", _rows(RowSpec("Snickeriarbete, kök", D("12"), D("650.00"), unit="h", service=True))),
    VatCase("domestic_12", "se", _rows(RowSpec("Konferenslunch", D("18"), D("145.00"), D("0.12")))),
    VatCase("domestic_6", "se", _rows(RowSpec("Facklitteratur: Snickeri för proffs", D("4"), D("395.00"), D("0.06")))),
    VatCase("domestic_mixed", "se", _rows(
        RowSpec("Platsbyggd bokhylla", D("1"), D("18500.00")),
        RowSpec("Konferenslunch", D("6"), D("145.00"), D("0.12")),
        RowSpec("Skötselråd för trä (bok)", D("2"), D("249.00"), D("0.06")),
    )),
    VatCase("exempt", "se", _rows(RowSpec("Utbildning: yrkesutbildning snickeri", D("1"), D("9500.00"), D("0"),
                                          service=True)),
            legal_wording=("Undantagen från skatteplikt enligt 10 kap. mervärdesskattelagen",)),
    VatCase("construction_reverse_charge", "builder", _rows(
        RowSpec("Montering av innerväggar", D("32"), D("595.00"), D("0"), unit="h", service=True),
        RowSpec("Gipsskivor", D("40"), D("89.50"), D("0")),
    ), legal_wording=("Omvänd betalningsskyldighet",), fields=(("ReverseChargeOnConstructionServices", True),)),
    VatCase("eu_goods", "de", _rows(RowSpec("Oak worktop, 3 m", D("6"), D("420.00"), D("0"))), currency="EUR",
            legal_wording=("Intra-Community supply", "Article 138"),
            fields=(("DeliveryCountryCode", "DE"), ("DeliveryAddress1", "Lagerweg 2"), ("DeliveryCity", "Hamburg"),
                    ("DeliveryPostalCode", "20095"))),
    VatCase("eu_services", "fi", _rows(RowSpec("Design consulting", D("16"), D("1150.00"), D("0"), unit="h",
                                               service=True)),
            legal_wording=("Reverse charge", "Article 196")),
    VatCase("export", "no", _rows(RowSpec("Garden furniture set", D("3"), D("7900.00"), D("0"))),
            legal_wording=("Export outside the EU", "Article 146")),
    VatCase("outside_scope", "us", _rows(RowSpec("Design licence", D("1"), D("24000.00"), D("0"), service=True)),
            legal_wording=("not subject to Swedish VAT",)),
    VatCase("eur", "se", _rows(RowSpec("Konsulttimmar november", D("20"), D("95.50"), unit="h", service=True),
                               RowSpec("Resekostnader", D("1"), D("240.00"))), currency="EUR",
            legal_wording=("Moms i SEK", "1 EUR = 11,2 SEK")),
    VatCase("nok", "se", _rows(RowSpec("Montering, Oslo-kontoret", D("15"), D("980.00"), unit="h", service=True),
                               RowSpec("Lunch till montörer", D("6"), D("155.00"), D("0.12"))), currency="NOK",
            legal_wording=("Moms i SEK", "1 NOK = 0,9712 SEK")),
    VatCase("rot", "rot", _rows(
        RowSpec("Renovering badrum, arbete", D("24"), D("560.00"), unit="h", service=True, work_cost=True),
        RowSpec("Kakel och fix", D("1"), D("8400.00")),
    ), legal_wording=("Skattereduktion (30 %)", "Fastighetsbeteckning", "TÄBY BJÖRKEN 1:23", ROT_PERSON),
        fields=(("RotReducedInvoicingType", 1), ("RotPropertyType", 2),
                ("RotReducedInvoicingPropertyName", "TÄBY BJÖRKEN 1:23"))),
    VatCase("rut", "rut", _rows(
        RowSpec("Hemstädning", D("8"), D("450.00"), unit="h", service=True, work_cost=True),
        RowSpec("Städmaterial", D("1"), D("240.00")),
    ), legal_wording=("Skattereduktion (50 %)", "Bostadsrättsförening", "769612-3459", "1102", RUT_PERSON),
        fields=(("RotReducedInvoicingType", 2), ("RotPropertyType", 1),
                ("RotReducedInvoicingPropertyName", "1102"), ("RotReducedInvoicingOrgNumber", org_number("769612345")))),
)
BY_NAME = {case.name: case for case in CASES}
# Percent of labour incl. VAT the buyer is reduced by (Skatteverket: ROT 30 %, RUT 50 %).
REDUCTION_PERCENT = {1: D("0.30"), 2: D("0.50")}
PERSONS = {1: ROT_PERSON, 2: RUT_PERSON}
# A credit invoice that also charges something again: a positive row among the credited (negative) ones.
CHARGED_AGAIN = RowSpec("Administrativ avgift för ändringen", D("-1"), D("250.00"))


def _ore(value: Decimal) -> Decimal:
    return value.quantize(D("0.01"), rounding=ROUND_HALF_UP)


def case_invoice(case: VatCase, number: int, *, credit_of: dict[str, Any] | None = None,
                 invoice_date: date = INVOICE_DATE) -> dict[str, Any]:
    """The case's invoice, or (with `credit_of`, the original's Spiris object) its credit invoice: every row
    credited, and for domestic_mixed an administrative fee charged again."""
    rows = list(case.rows) + ([CHARGED_AGAIN] if credit_of is not None and case.name == "domestic_mixed" else [])
    fields = dict(case.fields)
    kind = fields.get("RotReducedInvoicingType")
    if kind:
        fields.update(_tax_reduction(rows, kind, credit=credit_of is not None))
    if credit_of is not None:
        fields["ReferringInvoiceId"] = credit_of["Id"]
    return invoice(
        CUSTOMERS[case.customer], number, rows, invoice_date=invoice_date, currency=case.currency,
        is_credit=credit_of is not None, your_reference=None if CUSTOMERS[case.customer]["IsPrivatePerson"] else
        "Bertil Berg", **fields,
    )


def _tax_reduction(rows: list[RowSpec], kind: int, *, credit: bool) -> dict[str, Any]:
    """Spiris' ROT/RUT fields: the reduction on labour incl. VAT, claimed by one person (negative on a credit)."""
    sign = D(-1) if credit else D(1)
    labour = sum((_ore(r.quantity * r.unit_price) * (1 + r.vat_rate) for r in rows if r.work_cost), D(0))
    amount = _ore(labour * REDUCTION_PERCENT[kind]) * sign
    return {
        "RotReducedInvoicingAmount": amount,
        "RotReducedInvoicingPercent": REDUCTION_PERCENT[kind],
        "Persons": [{"Ssn": PERSONS[kind], "Amount": amount}],
    }
