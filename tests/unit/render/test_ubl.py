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
    UBL_XSD_DIR,
    compile_schematron,
    default_rules_dir,
    read_sha256sums,
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


def test_packaged_rules_are_the_pinned_official_files() -> None:
    assert default_rules_dir() == PACKAGED_RULES
    pinned = read_sha256sums(PACKAGED_RULES / "SHA256SUMS")
    assert set(pinned) == set(ARTEFACTS)
    for name in ARTEFACTS:
        assert sha256_of(PACKAGED_RULES / name) == pinned[name], name
        assert sha256_of(MIRROR / name) == pinned[name], f"the offline mirror's {name} is not the pinned release"


def test_schematron_compiler_keeps_every_assert() -> None:
    sch = (PACKAGED_RULES / "PEPPOL-EN16931-UBL.sch").read_text(encoding="utf-8")
    xslt = compile_schematron(sch)
    schema = ET.fromstring(sch.encode("utf-8"))
    asserts = list(schema.iter("{http://purl.oclc.org/dsdl/schematron}assert"))
    functions = list(schema.iter("{http://www.w3.org/1999/XSL/Transform}function"))
    assert len(asserts) == 156 and len(functions) == 13
    assert xslt.count("<svrl:failed-assert") == len(asserts)
    assert xslt.count("<xsl:function") == len(functions)


def test_packaged_schemas_are_the_pinned_oasis_files() -> None:
    """Every UBL 2.1 XSD is pinned, every pin matches, and everything the two main schemas import is there."""
    schemas = read_sha256sums(UBL_XSD_DIR / "SHA256SUMS")
    assert {str(p.relative_to(UBL_XSD_DIR)) for p in UBL_XSD_DIR.rglob("*.xsd")} == set(schemas)
    for name, pinned in schemas.items():
        assert sha256_of(UBL_XSD_DIR / name) == pinned, name
    needed, todo = set(), [UBL_XSD_DIR / "maindoc/UBL-Invoice-2.1.xsd", UBL_XSD_DIR / "maindoc/UBL-CreditNote-2.1.xsd"]
    while todo:
        path = todo.pop().resolve()
        if path in needed:
            continue
        needed.add(path)
        for ref in ET.parse(path).getroot().iter():
            if ref.tag.endswith(("}import", "}include")) and ref.get("schemaLocation"):
                todo.append(path.parent / ref.get("schemaLocation"))
    assert all(path.is_file() for path in needed) and len(needed) == len(schemas)


@pytest.mark.parametrize("example", sorted((MIRROR / "examples").glob("*.xml")), ids=lambda p: p.name)
def test_official_examples_pass_schema_and_rules(example: Path) -> None:
    result = validate_ubl(example.read_bytes())
    assert result.fatal == [], result.summary()


def test_the_schema_catches_what_the_rules_do_not() -> None:
    """Order, unknown elements and lexical forms are the schema's job: the Schematron rules pass these."""
    invoice, issuer, _ = REFERENCES["simple"]
    document = build_ubl(invoice, issuer).decode("utf-8")
    issue_date = f"<cbc:IssueDate>{invoice.issue_date.isoformat()}</cbc:IssueDate>"
    assert issue_date in document
    cases = {
        "order": document.replace(issue_date, "").replace("</cbc:InvoiceTypeCode>",
                                                          "</cbc:InvoiceTypeCode>" + issue_date, 1),
        "unknown element": document.replace(issue_date, issue_date + "<cbc:Colour>blue</cbc:Colour>"),
        "comma decimal": document.replace('<cbc:PayableAmount currencyID="SEK">',
                                          '<cbc:PayableAmount currencyID="SEK">1,', 1),
    }
    for case, broken in cases.items():
        assert broken != document, case
        result = validate_ubl(broken.encode("utf-8"))
        schema = [f for f in result.fatal if f.source == "xsd"]
        assert schema and all(f.rule_id == "UBL-XSD" and f.message.startswith("line ") for f in schema), case
    # Saxon stops on the lexical error; the validator reports that instead of raising.
    assert "EN16931-RUN" in validate_ubl(cases["comma decimal"].encode("utf-8")).fired()
    unknown = validate_ubl(cases["unknown element"].encode("utf-8"))
    assert "Colour" in unknown.summary() and {f.source for f in unknown.fatal} == {"xsd"}
    order = validate_ubl(b'<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"/>')
    assert [f.rule_id for f in order.fatal if f.source == "xsd"] == ["UBL-XSD"]
    assert "not a UBL 2.1 Invoice or CreditNote" in order.fatal[0].message


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
