from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from invoice_bridge.render.pdf import render_pdf
from invoice_bridge.render.ubl import build_ubl
from invoice_bridge.render.validation import (
    ARTEFACTS,
    PACKAGED_RULES,
    compile_schematron,
    default_rules_dir,
    sha256_of,
    validate_ubl,
)
from render_fixtures import reference_invoices

MIRROR = Path(__file__).resolve().parents[4] / "shared" / "peppol-rules"
CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
CAC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}"
REFERENCES = reference_invoices()


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_every_reference_invoice_passes_en16931_and_peppol(name: str) -> None:
    invoice, issuer, logo = REFERENCES[name]
    document = build_ubl(invoice, issuer, pdf=render_pdf(invoice, issuer, logo=logo))
    result = validate_ubl(document)
    assert result.fatal == [], result.summary()
    assert result.warnings == [], [w.rule_id for w in result.warnings]


def test_credit_note_document_shape() -> None:
    invoice, issuer, _ = REFERENCES["credit_note"]
    root = ET.fromstring(build_ubl(invoice, issuer))
    assert root.tag.endswith("}CreditNote")
    assert root.findtext(f"{CBC}CreditNoteTypeCode") == "381"
    assert root.findtext(f"{CAC}BillingReference/{CAC}InvoiceDocumentReference/{CBC}ID") == "1042"
    assert root.findtext(f"{CAC}LegalMonetaryTotal/{CBC}PayableAmount") == "2500.00"


def test_swedish_details_in_ubl() -> None:
    invoice, issuer, _ = REFERENCES["office_payee"]
    pdf = b"%PDF-1.7 minimal"
    root = ET.fromstring(build_ubl(invoice, issuer, pdf=pdf))
    seller = root.find(f"{CAC}AccountingSupplierParty/{CAC}Party")
    assert seller is not None
    assert seller.find(f"{CBC}EndpointID").get("schemeID") == "0007"
    schemes = {s.findtext(f"{CAC}TaxScheme/{CBC}ID"): s.findtext(f"{CBC}CompanyID")
               for s in seller.findall(f"{CAC}PartyTaxScheme")}
    assert schemes == {"VAT": "SE556012345601", "TAX": "Godkänd för F-skatt"}
    means = root.find(f"{CAC}PaymentMeans")
    assert means.findtext(f"{CBC}PaymentMeansCode") == "30"
    assert means.findtext(f"{CBC}PaymentID") == invoice.payment.ocr
    assert means.findtext(f"{CAC}PayeeFinancialAccount/{CBC}ID") == "50501055"
    assert means.findtext(f"{CAC}PayeeFinancialAccount/{CAC}FinancialInstitutionBranch/{CBC}ID") == "SE:BANKGIRO"
    assert root.findtext(f"{CAC}PayeeParty/{CAC}PartyName/{CBC}Name") == "Byrån Redovisning AB"
    assert "överlåtits" in root.findtext(f"{CBC}Note")
    assert root.findtext(f"{CAC}LegalMonetaryTotal/{CBC}PayableRoundingAmount") == "0.24"
    attachment = root.find(f"{CAC}AdditionalDocumentReference/{CAC}Attachment/{CBC}EmbeddedDocumentBinaryObject")
    assert attachment.get("mimeCode") == "application/pdf" and base64.b64decode(attachment.text) == pdf


def test_buyer_reference_falls_back_to_order_then_number() -> None:
    invoice, issuer, _ = REFERENCES["simple"]
    no_ref = invoice.model_copy(update={"buyer_reference": None, "order_reference": "PO-77"})
    assert ET.fromstring(build_ubl(no_ref, issuer)).findtext(f"{CBC}BuyerReference") == "PO-77"
    none = invoice.model_copy(update={"buyer_reference": None, "order_reference": None})
    assert ET.fromstring(build_ubl(none, issuer)).findtext(f"{CBC}BuyerReference") == "1042"
    assert validate_ubl(build_ubl(none, issuer)).ok


def test_broken_documents_are_rejected_with_rule_ids() -> None:
    invoice, issuer, _ = REFERENCES["simple"]
    wrong_total = invoice.model_copy(update={"gross_total": invoice.gross_total + 1})
    result = validate_ubl(build_ubl(wrong_total, issuer))
    assert {"BR-CO-16"} <= {f.rule_id for f in result.fatal}
    bad_seller = invoice.model_copy(update={"seller": invoice.seller.model_copy(update={"org_number": "5560123457",
                                                                                          "endpoint_id": "5560123457"})})
    fired = {f.rule_id for f in validate_ubl(build_ubl(bad_seller, issuer)).fatal}
    assert {"SE-R-013", "PEPPOL-COMMON-R049"} <= fired
    bad_rate = invoice.model_copy(update={"vat_breakdown": [b.model_copy(update={"rate": b.rate + 1})
                                                            for b in invoice.vat_breakdown]})
    assert "SE-R-006" in {f.rule_id for f in validate_ubl(build_ubl(bad_rate, issuer)).fatal}
    assert validate_ubl(b"<Invoice").fatal[0].rule_id == "XML"


def test_packaged_rules_are_the_pinned_mirror() -> None:
    assert default_rules_dir() == PACKAGED_RULES
    for name in ARTEFACTS:
        assert sha256_of(PACKAGED_RULES / name) == sha256_of(MIRROR / name), name


def test_schematron_compiler_keeps_every_assert() -> None:
    sch = (PACKAGED_RULES / "PEPPOL-EN16931-UBL.sch").read_text(encoding="utf-8")
    xslt = compile_schematron(sch)
    schema = ET.fromstring(sch.encode("utf-8"))
    asserts = list(schema.iter("{http://purl.oclc.org/dsdl/schematron}assert"))
    functions = list(schema.iter("{http://www.w3.org/1999/XSL/Transform}function"))
    assert len(asserts) == 156 and len(functions) == 13
    assert xslt.count("<svrl:failed-assert") == len(asserts)
    assert xslt.count("<xsl:function") == len(functions)


def test_no_xsd_in_the_mirror() -> None:
    """UBL 2.1 XSDs are not in the offline mirror, so schema validation is reported as not run."""
    assert not list(MIRROR.rglob("*.xsd"))
    invoice, issuer, _ = REFERENCES["simple"]
    assert validate_ubl(build_ubl(invoice, issuer)).schema_checked is False


def test_reverse_charge_and_exempt_rows_validate() -> None:
    from invoice_bridge.mapping import to_invoice
    from render_fixtures import CUSTOMER, ISSUER, row, source

    construction = source(3001, [row(0, "Byggtjänst", "10", "500", vat="0"), row(1, "Material", "1", "100", vat="0")],
                          ReverseChargeOnConstructionServices=True)
    invoice = to_invoice(construction, CUSTOMER, ISSUER, "int-1", office=None)
    assert invoice.reverse_charge and [(b.category, b.rate) for b in invoice.vat_breakdown] == [("AE", 0)]
    document = build_ubl(invoice, ISSUER)
    assert b"Omv\xc3\xa4nd betalningsskyldighet" in document
    assert validate_ubl(document).fatal == []
    mixed = source(3002, [row(0, "Bok", "1", "100", vat="0"), row(1, "Tjänst", "1", "100", vat="0.25")])
    assert validate_ubl(build_ubl(to_invoice(mixed, CUSTOMER, ISSUER, "int-1", office=None), ISSUER)).fatal == []
