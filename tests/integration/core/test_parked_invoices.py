"""One bad invoice never stops an integration (issue 12 §4), on the embedded stack: source invoices that
cannot be read or mapped are parked with their reason, listed in GET /failures, notified once per source
version, and the rest go on; a 2,000-row invoice (more than a DynamoDB item holds) goes all the way."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import httpx
from core_support import post_customer, post_invoice, sync

from sandbox.scenario import Scenario
from sandbox.seed import RowSpec, customer, invoice, org_number
from sandbox.spiris.jsonutil import dumps
from sandbox.stack import LocalStack

NOTIFICATION_ADDRESS = "ekonomi@exempelbolaget.se"


def _failures(scenario: Scenario) -> dict[str, Any]:
    with scenario.admin() as admin:
        return admin.get("/failures", params={"issuer_id": scenario.issuer_id}).json()  # type: ignore[no-any-return]


def _parked_notices(stack: LocalStack) -> list[dict[str, Any]]:
    return [m for m in stack.mail() if "kunde inte tas över" in m["subject"]]


def test_malformed_invoices_are_parked_notified_once_and_the_rest_go_on(
    connected: tuple[LocalStack, Scenario],
) -> None:
    stack, scenario = connected
    spiris = httpx.Client(base_url=scenario.spiris_url, timeout=60)
    buyer = customer("Nordisk Detaljhandel AB", org_number("556012345"), customer_number="10")
    buyer["Id"] = str(uuid.uuid4())
    post_customer(spiris, scenario.company_id, buyer)
    row = [RowSpec("Konsulttimmar", Decimal("2"), Decimal("950.00"), unit="h")]

    rows_null = invoice(buyer, 2001, row) | {"Rows": None}
    rows_missing = {k: v for k, v in invoice(buyer, 2002, row).items() if k != "Rows"}
    wrong_type = invoice(buyer, 2003, row)
    wrong_type["Rows"][0]["Quantity"] = "två"
    lone_surrogate = invoice(buyer, 2004, row)
    lone_surrogate["Rows"][0]["Text"] = "Konsult LONE_SURROGATE"
    absurd_vat = invoice(buyer, 2005, row)
    absurd_vat["Rows"][0]["VatRate"] = Decimal("250")
    bad = {
        "2001": post_invoice(spiris, scenario.company_id, rows_null),
        "2002": post_invoice(spiris, scenario.company_id, rows_missing),
        "2003": post_invoice(spiris, scenario.company_id, wrong_type),
        "2004": post_invoice(spiris, scenario.company_id, lone_surrogate),
        "2005": post_invoice(spiris, scenario.company_id, absurd_vat),
    }
    many_rows = [RowSpec(f"Artikel {n}", Decimal("1"), Decimal("10.00")) for n in range(2000)]
    large_id = post_invoice(spiris, scenario.company_id, invoice(buyer, 2006, many_rows))

    sync(stack, scenario, timeout=240)

    with scenario.admin() as admin:
        integration = admin.get(f"/integrations/{scenario.integration_id}").json()
    assert integration["status"] == "active" and "last_error" not in integration
    listed = {item["number"]: item for item in _failures(scenario)["source_invoices"]}
    assert set(listed) == set(bad)  # every bad one, nothing else
    for number, source_id in bad.items():
        assert listed[number]["source_id"] == source_id and listed[number]["reason"]
    assert listed["2001"]["kind"] == "unreadable" and "Rows" in listed["2001"]["reason"]
    assert listed["2002"]["kind"] == "unmappable" and "no rows" in listed["2002"]["reason"]
    assert listed["2003"]["kind"] == "unreadable" and "Quantity" in listed["2003"]["reason"]
    assert listed["2004"]["kind"] == "unreadable" and "Unicode" in listed["2004"]["reason"]
    assert listed["2005"]["kind"] == "unmappable" and "VAT" in listed["2005"]["reason"]
    assert "två" not in json.dumps(listed)  # reasons never quote the input

    notices = _parked_notices(stack)
    assert sorted(n["subject"].split()[1] for n in notices) == sorted(bad)
    assert all(n["to"] == [NOTIFICATION_ADDRESS] for n in notices)

    # The good invoices went on, the 2,000-row one included: fetched, rendered, validated.
    invoices = {i["number"]: i for i in scenario.invoices()}
    assert not set(bad) & set(invoices)
    large = invoices["2006"]
    assert large["source_id"] == large_id and large["status"] in ("held", "rendered"), large
    assert Decimal(large["total"]) == invoice(buyer, 2006, many_rows)["TotalAmount"] == Decimal("25000")
    pdf = httpx.get(large["pdf_url"], timeout=60).content
    assert pdf.startswith(b"%PDF") and len(pdf) > 100_000
    xml = httpx.get(large["einvoice_url"], timeout=60).content
    assert xml.count(b"<cac:InvoiceLine>") == 2000

    # Re-synced while nothing changed (the overlap re-reads them): no second notice.
    sync(stack, scenario, timeout=240)
    assert len(_parked_notices(stack)) == len(bad)

    # Fixed at the source: the new version is taken, and it leaves the failures list.
    fixed = invoice(buyer, 2001, row)
    spiris.patch(
        f"/_sandbox/companies/{scenario.company_id}/customerinvoices/{bad['2001']}",
        content=dumps({"Rows": fixed["Rows"]}).encode(),
        headers={"Content-Type": "application/json"},
    ).raise_for_status()
    sync(stack, scenario, timeout=240)
    assert "2001" not in {item["number"] for item in _failures(scenario)["source_invoices"]}
    assert "2001" in {i["number"] for i in scenario.invoices()}
    assert len(_parked_notices(stack)) == len(bad)
