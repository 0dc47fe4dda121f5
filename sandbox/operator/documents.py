"""What the operator sandbox reads from an uploaded invoice: the XML (alone, or in a ZIP with the PDF
image, as Maventa takes "an invoice XML or a ZIP with the invoice XML and attachments"), its number and
the buyer's postal address (a letter needs all of it)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from xml.etree import ElementTree

_UBL = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}


class UnreadableFile(ValueError):
    """The file is neither an invoice XML nor a ZIP holding one."""


@dataclass(frozen=True)
class InvoiceFile:
    xml: bytes
    pdf: bytes | None  # the invoice image sent along (ZIP), if any
    number: str | None
    buyer_address: dict[str, str]  # name, street, postal_code, city, country ("" where missing)

    def missing_address_parts(self) -> list[str]:
        return [part for part in ("name", "street", "postal_code", "city") if not self.buyer_address.get(part)]


def read_invoice_file(data: bytes) -> InvoiceFile:
    xml, pdf = data, None
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as bundle:
                names = bundle.namelist()
                xml_names = [n for n in names if n.lower().endswith(".xml")]
                pdf_names = [n for n in names if n.lower().endswith(".pdf")]
                if len(xml_names) != 1:
                    raise UnreadableFile(f"the ZIP must hold exactly one invoice XML, it holds {len(xml_names)}")
                xml = bundle.read(xml_names[0])
                pdf = bundle.read(pdf_names[0]) if pdf_names else None
        except zipfile.BadZipFile:
            raise UnreadableFile("the file is not a readable ZIP") from None
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        raise UnreadableFile("the file is not well-formed XML") from None
    return InvoiceFile(xml=xml, pdf=pdf, number=_text(root, "cbc:ID") or None, buyer_address=_buyer_address(root))


def _text(element: ElementTree.Element, path: str) -> str:
    return (element.findtext(path, default="", namespaces=_UBL) or "").strip()


def _buyer_address(root: ElementTree.Element) -> dict[str, str]:
    party = root.find("cac:AccountingCustomerParty/cac:Party", _UBL)
    if party is None:
        return {"name": "", "street": "", "postal_code": "", "city": "", "country": ""}
    return {
        "name": _text(party, "cac:PartyName/cbc:Name") or _text(party, "cac:PartyLegalEntity/cbc:RegistrationName"),
        "street": _text(party, "cac:PostalAddress/cbc:StreetName"),
        "postal_code": _text(party, "cac:PostalAddress/cbc:PostalZone"),
        "city": _text(party, "cac:PostalAddress/cbc:CityName"),
        "country": _text(party, "cac:PostalAddress/cac:Country/cbc:IdentificationCode"),
    }
