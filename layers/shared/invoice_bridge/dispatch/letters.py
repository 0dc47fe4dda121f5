"""A printed letter: our PDF as the printed image, with the invoice XML the operator reads it with.

The letter never depends on a Peppol-valid e-invoice: the rendered UBL of the version rides along when
there is one, and otherwise (a private buyer gets no e-invoice: `einvoice_key` None) the same builder
writes the invoice XML unvalidated. The address is the buyer's from our invoice, which the policy has
checked is complete.
"""

from __future__ import annotations

from ..models.invoice import Invoice
from ..models.issuer import Issuer
from ..ports import Letter


def letter_for(invoice: Invoice, issuer: Issuer, pdf: bytes, einvoice: bytes | None) -> Letter:
    """The letter of `invoice`'s version: its rendered `pdf`, and its rendered `einvoice` if it has one."""
    if einvoice is None:
        from ..render.ubl import build_ubl  # only letters without an e-invoice pay for the UBL builder

        einvoice = build_ubl(invoice, issuer)
    return Letter(pdf=pdf, xml=einvoice, name=invoice.buyer.name, address=invoice.buyer.address)
