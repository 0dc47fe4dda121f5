"""Invoices and issuers as the dispatch and sweeper tests need them: a rendered e-invoice of 125 SEK to a
buyer reachable by organisation number, from an issuer on Maventa unless told otherwise."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from invoice_bridge.models.invoice import Invoice, InvoiceStatus, Party, PostalAddress
from invoice_bridge.models.issuer import Address, DispatchSettings, Issuer

BUYER_ORG = "5567321707"


def make_issuer(
    issuer_id: str = "iss1", language: str = "sv", provider: str = "maventa", **dispatch: bool
) -> Issuer:
    return Issuer(
        id=issuer_id,
        name="Utställare AB",
        org_number="5560360793",
        address=Address(street="Gatan 1", postal_code="11122", city="Stockholm"),
        notification_email="byra@example.com",
        language=language,  # type: ignore[arg-type]
        dispatch=DispatchSettings(**dispatch),
        operator_provider=provider,  # type: ignore[arg-type]
    )


def make_invoice(
    invoice_id: str = "inv1",
    *,
    buyer_org: str | None = BUYER_ORG,
    buyer_email: str | None = None,
    issuer_id: str = "iss1",
    number: str = "1001",
) -> Invoice:
    return Invoice(
        id=invoice_id,
        issuer_id=issuer_id,
        integration_id="int1",
        source_id=f"src-{invoice_id}",
        content_hash="h",
        number=number,
        issue_date=date(2026, 11, 20),
        due_date=date(2026, 12, 20),
        seller=Party(name="Utställare AB", org_number="5560360793"),
        buyer=Party(
            name="Köpare AB",
            org_number=buyer_org,
            email=buyer_email,
            address=PostalAddress(street="Vägen 2", postal_code="41101", city="Göteborg"),
        ),
        rows=[],
        vat_breakdown=[],
        net_total=Decimal("100.00"),
        vat_total=Decimal("25.00"),
        gross_total=Decimal("125.00"),
        status=InvoiceStatus.RENDERED,
        pdf_key=f"{issuer_id}/invoices/{invoice_id}/v1/invoice.pdf",
        einvoice_key=f"{issuer_id}/invoices/{invoice_id}/v1/invoice.xml",
    )
