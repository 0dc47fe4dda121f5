"""Demo and test data in the real Spiris JSON shapes (CustomerApi, CustomerInvoiceApi).

Amounts are Decimal here and leave as JSON numbers, as Spiris sends them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from stdnum import luhn


def org_number(prefix: str) -> str:
    """A valid Swedish organisation number (Luhn over 10 digits) from a 9-digit prefix."""
    return prefix + luhn.calc_check_digit(prefix)


def _d(value: str | int) -> Decimal:
    return Decimal(value)


def _ore(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class RowSpec:
    text: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal = Decimal("0.25")  # Spiris' scale: a fraction
    unit: str = "st"
    discount: Decimal = Decimal("0")
    service: bool = False  # the article's sales category (IsServiceArticle): decides K/AE and G/O at 0 %
    work_cost: bool = False  # ROT/RUT labour (IsWorkCost)


# Spiris' CurrencyRate (SEK per unit) for the invoice currencies the demo and tests use.
CURRENCY_RATES = {"SEK": Decimal("1"), "EUR": Decimal("11.2"), "NOK": Decimal("0.9712")}


def stockholm_today() -> date:
    return datetime.now(ZoneInfo("Europe/Stockholm")).date()


def customer(
    name: str,
    org: str,
    *,
    email: str | None = None,
    gln: str | None = None,
    city: str = "Stockholm",
    customer_number: str = "1",
) -> dict[str, Any]:
    return {
        "Id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"customer:{org}:{name}")),
        "CustomerNumber": customer_number,
        "Name": name,
        "IsPrivatePerson": False,
        "IsActive": True,
        "CorporateIdentityNumber": f"{org[:6]}-{org[6:]}",
        "VatNumber": f"SE{org}01",
        "EdiGlnNumber": gln,
        "ElectronicAddress": None,
        "ElectronicReference": None,
        "EmailAddress": email,
        "InvoiceAddress1": "Storgatan 1",
        "InvoiceAddress2": None,
        "InvoicePostalCode": "111 22",
        "InvoiceCity": city,
        "InvoiceCountryCode": "SE",
        "CurrencyCode": "SEK",
        "SalesDocumentLanguage": "sv",
    }


def invoice(
    cust: dict[str, Any],
    number: int,
    rows: list[RowSpec],
    *,
    invoice_date: date | None = None,
    days: int = 30,
    currency: str = "SEK",
    payment_status: int = 1,
    remaining: Decimal | None = None,
    is_credit: bool = False,
    referring_invoice_id: str | None = None,
    send_type: int | None = None,
    is_sold: bool = False,
    your_reference: str | None = "Bertil Berg",
    **fields: Any,
) -> dict[str, Any]:
    """A booked CustomerInvoiceApi object with rows, VAT specification and totals that add up: invoice
    currency amounts and their SEK (base currency) twins at `CURRENCY_RATES`. Dated today (Stockholm) unless
    told otherwise; `fields` override anything (ROT/RUT fields, delivery address, ...)."""
    invoice_date = invoice_date or stockholm_today()
    sign = Decimal(-1) if is_credit else Decimal(1)
    api_rows: list[dict[str, Any]] = []
    vat_groups: dict[Decimal, list[Decimal]] = {}
    for line, row in enumerate(rows):
        net = _ore(row.quantity * row.unit_price * (1 - row.discount)) * sign
        vat_groups.setdefault(row.vat_rate, []).append(net)
        api_rows.append(
            {
                "Id": str(uuid.uuid4()),
                "LineNumber": line,
                "IsTextRow": False,
                "ArticleNumber": str(100 + line),
                "Text": row.text,
                "Quantity": row.quantity * sign,
                "UnitPrice": row.unit_price,
                "UnitAbbreviation": row.unit,
                "UnitAbbreviationEnglish": row.unit,
                "DiscountPercentage": row.discount,
                "IsDiscountInFixedAmount": False,
                "AmountNoVat": net,
                "Amount": net,
                "PercentVat": row.vat_rate,
                "VatRate": row.vat_rate,
                "IsVatFree": row.vat_rate == 0,
                "IsServiceArticle": row.service,
                "IsWorkCost": row.work_cost,
            }
        )
    vat_spec = []
    net_total = Decimal("0")
    vat_total = Decimal("0")
    for rate, nets in sorted(vat_groups.items()):
        base = sum(nets, Decimal("0"))
        vat = _ore(base * rate)
        vat_spec.append({"AmountInvoiceCurrency": base, "VatAmountInvoiceCurrency": vat, "VatPercent": rate})
        net_total += base
        vat_total += vat
    gross_exact = net_total + vat_total
    # Swedish öre rounding to whole kronor, as Spiris does for SEK invoices.
    gross = gross_exact.quantize(Decimal("1"), rounding=ROUND_HALF_UP) if currency == "SEK" else gross_exact
    rounding = gross - gross_exact
    rate = CURRENCY_RATES[currency]
    due = invoice_date + timedelta(days=days)
    source_id = str(uuid.uuid4())
    body = {
        "Id": source_id,
        "InvoiceNumber": number,
        "IsCreditInvoice": is_credit,
        "CustomerId": cust["Id"],
        "CustomerNumber": cust["CustomerNumber"],
        "CustomerName": cust["Name"],
        "InvoiceCustomerName": cust["Name"],
        "InvoiceAddress1": cust["InvoiceAddress1"],
        "InvoiceAddress2": None,
        "InvoicePostalCode": cust["InvoicePostalCode"],
        "InvoiceCity": cust["InvoiceCity"],
        "InvoiceCountryCode": cust.get("InvoiceCountryCode") or "SE",
        "CustomerIsPrivatePerson": bool(cust.get("IsPrivatePerson")),
        "CustomerEmail": cust["EmailAddress"],
        "InvoiceDate": f"{invoice_date.isoformat()}T00:00:00",
        "DueDate": f"{due.isoformat()}T00:00:00",
        "DeliveryDate": f"{invoice_date.isoformat()}T00:00:00",
        "CurrencyCode": currency,
        "CurrencyRate": rate,
        "TotalAmount": _ore(gross * rate),
        "TotalVatAmount": _ore(vat_total * rate),
        "TotalRoundings": rounding,
        "TotalAmountInvoiceCurrency": gross,
        "TotalVatAmountInvoiceCurrency": vat_total,
        "SetOffAmountInvoiceCurrency": Decimal("0"),
        "RemainingAmount": _ore(gross * rate) if remaining is None else remaining,
        "RemainingAmountInvoiceCurrency": gross if remaining is None else remaining,
        "PaymentStatus": payment_status,
        "PaymentDate": None,
        "VatSpecification": vat_spec,
        "Rows": api_rows,
        "OurReference": "Anna Andersson",
        "YourReference": your_reference,
        "BuyersOrderReference": None,
        "PaymentReferenceNumber": f"{number}{luhn.calc_check_digit(str(number))}",
        "SendType": send_type,
        "HasAutoInvoiceError": False,
        "IsNotDelivered": False,
        "IsSold": is_sold,
        "FactoringInvoiceStatus": 4 if is_sold else 0,
        "CreditedBy": [],
        "ReferringInvoiceId": referring_invoice_id,
        "IncludesVat": False,
        "ReverseChargeOnConstructionServices": False,
        "RotReducedInvoicingType": 0,
        "EuThirdParty": False,
        "VoucherId": str(uuid.uuid4()),  # booked: on a voucher
        "VoucherNumber": f"F{number}",
        "PaymentReminderIssued": False,
        "PaymentRemindersCount": 0,
        "IsQuickInvoice": False,
    }
    body.update(fields)
    return body
