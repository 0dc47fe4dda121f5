"""Issue 15 (the soak's 38 parked, 37 notified): the notice of a parked source invoice that did not go out
is sent by the sweeper, once, whether or not a sync ever reads that version again. The embedded stack
(IAM enforced as the template grants it), its Spiris sandbox, and SES answering as scripted."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
from core_support import post_customer, post_invoice, sync

from sandbox.scenario import Scenario
from sandbox.seed import RowSpec, customer, invoice, org_number
from sandbox.stack import LocalStack

SWEEPER = "SweepStuckFunction"


def _notices_of(stack: LocalStack, number: str) -> list[dict[str, Any]]:
    return [m for m in stack.mail() if "kunde inte tas över" in m["subject"] and m["subject"].split()[1] == number]


def _post_unreadable_invoice(scenario: Scenario, number: int) -> str:
    spiris = httpx.Client(base_url=scenario.spiris_url, timeout=60)
    buyer = customer("Nordisk Detaljhandel AB", org_number("556012345"), customer_number=str(number))
    buyer["Id"] = str(uuid.uuid4())
    post_customer(spiris, scenario.company_id, buyer)
    body = invoice(buyer, number, [RowSpec("Konsulttimmar", Decimal("2"), Decimal("950.00"))]) | {"Rows": None}
    return post_invoice(spiris, scenario.company_id, body)


def _sweep(stack: LocalStack) -> dict[str, int]:
    [result] = stack.tick(SWEEPER).values()
    assert isinstance(result, dict), result  # the sweep itself did not fail (an IAM denial would)
    return result


def test_a_parked_notice_that_failed_is_sent_by_the_sweeper_once_without_a_sync_reading_it_again(
    connected: tuple[LocalStack, Scenario],
) -> None:
    stack, scenario = connected
    source_id = _post_unreadable_invoice(scenario, 3101)
    # SES throttles the sync's notice, then gives the first sweep no answer (a 5xx): neither sent it.
    stack.aws.ses_faults.queue("throttle", "server_error")

    sync(stack, scenario)

    with scenario.admin() as admin:
        listed = admin.get("/failures", params={"issuer_id": scenario.issuer_id}).json()["source_invoices"]
    assert [item["source_id"] for item in listed if item["number"] == "3101"] == [source_id]
    assert _notices_of(stack, "3101") == []

    # No sync runs from here on: the notice must not wait for one to read the version again.
    first = _sweep(stack)
    assert _notices_of(stack, "3101") == []
    second = _sweep(stack)
    [notice] = _notices_of(stack, "3101")
    assert notice["to"] == ["ekonomi@exempelbolaget.se"]  # the issuer's notification address
    assert (first["parked_notices_waiting"], first["parked_notices_sent"], first["parked_notices_not_sent"]) == (1, 0, 1)
    assert (second["parked_notices_waiting"], second["parked_notices_sent"]) == (1, 1)

    # Sent once: off the list, so neither a later sweep nor the overlap's re-read sends it again.
    assert _sweep(stack)["parked_notices_waiting"] == 0
    sync(stack, scenario)
    assert _sweep(stack)["parked_notices_waiting"] == 0
    assert len(_notices_of(stack, "3101")) == 1
    with scenario.admin() as admin:  # still parked: the failures list is unchanged by the notice
        listed = admin.get("/failures", params={"issuer_id": scenario.issuer_id}).json()["source_invoices"]
    assert [item["source_id"] for item in listed if item["number"] == "3101"] == [source_id]
