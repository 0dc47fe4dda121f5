"""A printed letter: our PDF as the printed image, with the invoice XML the operator reads it with.

The letter never depends on a Peppol-valid e-invoice: the rendered UBL rides along when there is one,
and otherwise (a private buyer gets no e-invoice) the same builder writes the invoice XML unvalidated.
The address is the buyer's from our invoice, which the policy has checked is complete.
"""

from __future__ import annotations

from ..models.invoice import Invoice
from ..models.issuer import Issuer
from ..ports import DocumentStore, Letter


def letter_for(invoice: Invoice, issuer: Issuer, documents: DocumentStore) -> Letter:
    if not invoice.pdf_key:
        raise ValueError("the invoice has no pdf_key; it must be rendered before dispatch")
    pdf = documents.get(invoice.pdf_key)
    if invoice.einvoice_key:
        xml = documents.get(invoice.einvoice_key)
    else:
        from ..render.ubl import build_ubl

        xml = build_ubl(invoice, issuer)
    return Letter(pdf=pdf, xml=xml, name=invoice.buyer.name, address=invoice.buyer.address)
