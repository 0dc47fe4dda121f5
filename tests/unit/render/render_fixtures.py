"""Reference invoices for the render tests: Spiris sources (as the sample JSON in spiris-api.md §2.6) + issuers."""

from __future__ import annotations

import base64
import io
from decimal import Decimal
from typing import Any

from invoice_bridge.mapping import to_invoice
from invoice_bridge.models.invoice import Invoice
from invoice_bridge.models.issuer import Address, Issuer, OfficePayee
from invoice_bridge.models.spiris import Customer, CustomerInvoice

D = Decimal

ISSUER = Issuer(
    id="issuer-1",
    name="Snickeri Nordin AB",
    org_number="5560123456",
    address=Address(street="Verkstadsvägen 4", postal_code="123 45", city="Solna"),
    notification_email="ekonomi@snickerinordin.se",
    bankgiro="5805-6201",
    plusgiro="4711115",
    f_skatt=True,
)
OFFICE = OfficePayee(name="Byrån Redovisning AB", org_number="5567037485", bankgiro="5050-1055")

CUSTOMER = Customer(
    Id="cust-1",
    Name="Kund AB",
    CorporateIdentityNumber="556677-8899",
    EmailAddress="faktura@kund.se",
)
CUSTOMER_GLN = Customer(
    Id="cust-2", Name="Region Testland", CorporateIdentityNumber="2321000016", EdiGlnNumber="7300009060115",
)


def logo_png() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (360, 120), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 110, 120), fill=(31, 78, 121))
    draw.polygon([(20, 100), (55, 20), (90, 100)], fill=(255, 255, 255))
    draw.rectangle((125, 45, 350, 75), fill=(31, 78, 121))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


EXCHANGE_RATES = {"EUR": D("11.2"), "NOK": D("0.9712")}


def row(line: int, text: str, qty: str, price: str, vat: str = "0.25", discount: str = "0", unit: str = "st",
        article: str | None = "100") -> dict[str, Any]:
    quantity, unit_price, discount_fraction = D(qty), D(price), D(discount)
    amount = (quantity * unit_price * (1 - discount_fraction)).quantize(D("0.01"))
    return {
        "LineNumber": line, "IsTextRow": False, "ArticleNumber": article, "Text": text, "Quantity": quantity,
        "UnitPrice": unit_price, "UnitAbbreviation": unit, "UnitAbbreviationEnglish": {"st": "pcs"}.get(unit, unit),
        "DiscountPercentage": discount_fraction, "AmountNoVat": amount, "VatRate": D(vat), "PercentVat": D(vat),
        "Amount": amount,
    }


def text_row(line: int, text: str) -> dict[str, Any]:
    return {"LineNumber": line, "IsTextRow": True, "Text": text, "Quantity": D(0), "UnitPrice": D(0),
            "AmountNoVat": D(0), "VatRate": None}


def source(number: int, rows: list[dict[str, Any]], *, credit: bool = False, currency: str = "SEK",
           rounding: bool = True, **extra: Any) -> CustomerInvoice:
    """A booked Spiris invoice whose totals and VAT specification are consistent with its rows."""
    sign = D(-1) if credit else D(1)
    if credit:
        for r in rows:
            if not r["IsTextRow"]:
                r["Quantity"] = -r["Quantity"]
                r["AmountNoVat"] = -r["AmountNoVat"]
                r["Amount"] = -r["Amount"]
    by_rate: dict[Decimal, Decimal] = {}
    for r in rows:
        if not r["IsTextRow"]:
            by_rate[r["VatRate"]] = by_rate.get(r["VatRate"], D(0)) + r["AmountNoVat"]
    spec = [{"AmountInvoiceCurrency": net, "VatAmountInvoiceCurrency": (net * rate).quantize(D("0.01")),
             "VatPercent": rate} for rate, net in by_rate.items()]
    net = sum(by_rate.values(), D(0))
    vat = sum((s["VatAmountInvoiceCurrency"] for s in spec), D(0))
    gross = net + vat
    rounded = gross.quantize(D("1")) if (rounding and currency == "SEK") else gross
    rate = D(1) if currency == "SEK" else EXCHANGE_RATES[currency]  # Spiris' base-currency twins are SEK
    data = {
        "Id": f"00000000-0000-4000-8000-{number:012d}", "InvoiceNumber": number, "IsCreditInvoice": credit,
        "CustomerId": "cust-1", "CustomerNumber": "17", "InvoiceCustomerName": "Kund AB",
        "InvoiceAddress1": "Storgatan 1", "InvoicePostalCode": "111 22", "InvoiceCity": "Stockholm",
        "InvoiceCountryCode": "SE", "CustomerIsPrivatePerson": False, "CustomerEmail": "faktura@kund.se",
        "InvoiceDate": "2026-10-31T00:00:00", "DueDate": "2026-11-30T00:00:00", "DeliveryDate": "2026-10-31T00:00:00",
        "CurrencyCode": currency, "CurrencyRate": rate, "TotalAmountInvoiceCurrency": rounded,
        "TotalVatAmountInvoiceCurrency": vat, "TotalAmount": (rounded * rate).quantize(D("0.01")),
        "TotalVatAmount": (vat * rate).quantize(D("0.01")),
        "TotalRoundings": (rounded - gross) if currency == "SEK" else D(0), "VatSpecification": spec, "Rows": rows,
        "OurReference": "Anna Andersson", "YourReference": "Bertil Berg", "PaymentReferenceNumber": f"{number}03",
        "RemainingAmount": rounded * sign, "PaymentStatus": 1, "ModifiedUtc": "2026-10-31T09:12:45Z",
    }
    data.update(extra)
    return CustomerInvoice.model_validate(data)


def simple_source() -> CustomerInvoice:
    return source(1042, [
        row(0, "Konsulttimmar oktober", "10", "1000", unit="h"),
        text_row(1, "Enligt avtal 2026-01"),
        row(2, "Skruv rostfri 5x50, 200-pack", "3", "249.50", discount="0.1"),
        row(3, "Facklitteratur: Snickeri för proffs", "1", "395.00", vat="0.06", article="B-17"),
    ])


def long_source() -> CustomerInvoice:
    rows = []
    for i in range(60):
        if i % 15 == 7:
            rows.append(text_row(i, f"Etapp {i // 15 + 1}: arbeten enligt tidplan"))
        else:
            rows.append(row(i, f"Material och arbete, position {i + 1}", str(1 + i % 4), f"{100 + i * 7.25:.2f}",
                            vat="0.25" if i % 5 else "0.12", article=f"A-{i:03d}"))
    return source(1043, rows)


def credit_source() -> CustomerInvoice:
    return source(1044, [row(0, "Kreditering: felaktigt debiterade timmar", "2", "1000", unit="h")], credit=True,
                  ReferringInvoiceId="00000000-0000-4000-8000-000000001042")


def english_eur_source() -> CustomerInvoice:
    return source(1046, [
        row(0, "Consulting hours October", "12", "95.50", unit="h"),
        row(1, "Travel expenses — Göteborg–Malmö", "1", "240.00", vat="0.25", article=None),
    ], currency="EUR")


def reference_invoices() -> dict[str, tuple[Invoice, Issuer, bytes | None]]:
    """name → (invoice, issuer, logo) for the six golden invoices."""
    logo = logo_png()
    office_issuer = ISSUER.model_copy(update={"payee": "office"})
    no_logo_issuer = ISSUER.model_copy(update={"plusgiro": None, "iban": "SE4550000000058398257466"})
    english_issuer = ISSUER.model_copy(update={"language": "en", "iban": "SE4550000000058398257466", "plusgiro": None})
    return {
        "simple": (to_invoice(simple_source(), CUSTOMER, ISSUER, "int-1", office=None), ISSUER, logo),
        "long": (to_invoice(long_source(), CUSTOMER_GLN, ISSUER, "int-1", office=None), ISSUER, logo),
        "credit_note": (to_invoice(credit_source(), CUSTOMER, ISSUER, "int-1", office=None, original_number="1042"),
                        ISSUER, logo),
        "office_payee": (to_invoice(simple_source(), CUSTOMER, office_issuer, "int-1", office=OFFICE),
                         office_issuer, logo),
        "no_logo": (to_invoice(simple_source(), CUSTOMER, no_logo_issuer, "int-1", office=None), no_logo_issuer,
                    None),
        "english_eur": (to_invoice(english_eur_source(), CUSTOMER, english_issuer, "int-1", office=None),
                        english_issuer, logo),
    }


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
