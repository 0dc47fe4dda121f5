"""A small but real PDF of a customer invoice, for `/pdf` (temporary URL) and `/print`."""

from __future__ import annotations

from typing import Any

from fpdf import FPDF


def invoice_pdf(invoice: dict[str, Any]) -> bytes:
    document = FPDF(format="A4")
    document.add_page()
    document.set_font("helvetica", size=14)
    document.cell(0, 10, f"Faktura {invoice.get('InvoiceNumber') or ''}", new_x="LMARGIN", new_y="NEXT")
    document.set_font("helvetica", size=10)
    lines = [
        f"Kund: {invoice.get('InvoiceCustomerName') or invoice.get('CustomerName') or ''}",
        f"Fakturadatum: {str(invoice.get('InvoiceDate') or '')[:10]}",
        f"Förfallodatum: {str(invoice.get('DueDate') or '')[:10]}",
        f"Att betala: {invoice.get('TotalAmountInvoiceCurrency', invoice.get('TotalAmount', ''))} "
        f"{invoice.get('CurrencyCode') or 'SEK'}",
        f"Id: {invoice.get('Id')}",
    ]
    for line in lines:
        document.cell(0, 7, line.encode("latin-1", "replace").decode("latin-1"), new_x="LMARGIN", new_y="NEXT")
    return bytes(document.output())
