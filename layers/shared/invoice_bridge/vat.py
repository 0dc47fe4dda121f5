"""VAT category of each row, decided from the fields Spiris has (reference/vat-cases.md §2–3).

Spiris has no field for the category or the exemption reason; they follow from the row (its rate, whether
its article is a service), the invoice (reverse charge in construction) and the buyer (country, private or
business). The rules, in order:

- a row with VAT is S (standard rate: 25, 12 or 6 %);
- reverse charge in construction (ML 16 kap. 13 §) is AE;
- a 0 % row to a buyer in Sweden is E (exempt, ML 10 kap.);
- to another EU country: goods K (intra-community supply), services AE (reverse charge);
- outside the EU: goods G (export), services O (outside the scope of Swedish VAT).

K and AE need the buyer's VAT number (ML 17 kap. 24 § p. 4); `missing_buyer_vat_number` finds the
invoices that lack it, and render parks them with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .identifiers import EU_COUNTRIES
from .models.invoice import Invoice, VatCategory
from .models.spiris import Customer, CustomerInvoice, CustomerInvoiceRow

# The VATEX code the e-invoice carries for each exemption (Peppol ties them to categories, P0104–P0107);
# None: a reason text only (an exemption under ML 10 kap. has no single code).
EXEMPTION_CODES: dict[str, str | None] = {
    "reverse_charge_construction": "VATEX-EU-AE",
    "reverse_charge_services": "VATEX-EU-AE",
    "intra_community_supply": "VATEX-EU-IC",
    "export": "VATEX-EU-G",
    "outside_scope": "VATEX-EU-O",
    "exempt": None,
}
# Categories whose VAT the buyer accounts for or that need the buyer's VAT number on the invoice.
NEEDS_BUYER_VAT_NUMBER = frozenset({"K", "AE"})


@dataclass(frozen=True)
class VatSituation:
    """What decides the category of a 0 % row: where the buyer is and whether the buyer accounts for VAT."""

    buyer_country: str
    construction_reverse_charge: bool

    @property
    def domestic(self) -> bool:
        return self.buyer_country == "SE"

    @property
    def in_eu(self) -> bool:
        return self.buyer_country in EU_COUNTRIES


def vat_situation(source: CustomerInvoice, customer: Customer | None) -> VatSituation:
    """The buyer's country is the invoice address's, or the delivery address's for a customer set up with
    delivery-based VAT (`DeliveryBasedVat`)."""
    country = source.InvoiceCountryCode or (customer.InvoiceCountryCode if customer else None)
    if customer is not None and customer.DeliveryBasedVat:
        country = source.DeliveryCountryCode or customer.DeliveryCountryCode or country
    construction = source.ReverseChargeOnConstructionServices or source.ReversedConstructionVatInvoicing
    if construction is None and customer is not None:
        construction = customer.ReverseChargeOnConstructionServices
    return VatSituation(buyer_country=(country or "SE").strip().upper(), construction_reverse_charge=bool(construction))


def row_category(row: CustomerInvoiceRow, rate: Decimal, situation: VatSituation) -> tuple[VatCategory, str | None]:
    """(category, exemption key) of one row. A row without an article counts as goods: Spiris marks
    services through the article (`IsServiceArticle`)."""
    if rate > 0:
        return "S", None
    if situation.construction_reverse_charge:
        return "AE", "reverse_charge_construction"
    if situation.domestic:
        return "E", "exempt"
    service = bool(row.IsServiceArticle)
    if situation.in_eu:
        return ("AE", "reverse_charge_services") if service else ("K", "intra_community_supply")
    return ("O", "outside_scope") if service else ("G", "export")


def missing_buyer_vat_number(invoice: Invoice) -> str | None:
    """The reason an invoice cannot be issued as it is: reverse charge (AE) or an intra-community supply (K)
    without the buyer's VAT number. None when nothing is missing."""
    needing = sorted({b.category for b in invoice.vat_breakdown if b.category in NEEDS_BUYER_VAT_NUMBER})
    if not needing or invoice.buyer.vat_number:
        return None
    return (
        f"buyer_vat_number_missing: {' and '.join(needing)} (reverse charge / intra-community supply) needs "
        "the buyer's VAT number; add it to the customer in Spiris"
    )


def has_category(invoice: Invoice, category: str) -> bool:
    return any(b.category == category for b in invoice.vat_breakdown)
