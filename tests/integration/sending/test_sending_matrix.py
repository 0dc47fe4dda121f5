"""Issue 13's selection matrix, the rows past the sync: approval mode, send delay, and a change at the source
just before sending. Each invoice comes from the Spiris sandbox through the real sync, render and dispatch
(whose fresh look reads the sandbox again) and ends where it should, with its reason shown by the admin API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from invoice_bridge.adapters.dynamo_deliveries import DynamoDeliveryLedger
from invoice_bridge.adapters.dynamo_sync import DynamoDecisionStore
from invoice_bridge.adapters.sqs_queue import SqsWorkQueue
from invoice_bridge.dispatch.fresh_look import FreshLook, SourceUnavailable
from invoice_bridge.dispatch.service import OriginalNotSettled, dispatch_invoice
from invoice_bridge.models.delivery import Delivery, DeliveryState
from invoice_bridge.models.integration import IntegrationStatus
from invoice_bridge.models.invoice import Invoice
from invoice_bridge.models.issuer import Issuer
from invoice_bridge.ports import InvoiceMove
from invoice_bridge.sending import release_due_invoices
from sending_support import (
    INTEGRATION_ID,
    ISSUER_ID,
    OFFICE_USER,
    TABLE,
    World,
    credit_note_fields,
    mails_to,
)

# Whose invoice the messages of these tests are: every render and dispatch message names both.
WHOSE = {"issuer_id": ISSUER_ID, "integration_id": INTEGRATION_ID}

BUYER = "faktura@kund.se"
INVOICE_READ = "GET /v2/customerinvoices/{invoice_id}"


def test_approval_mode_holds_every_invoice_until_the_office_approves_it(world: World) -> None:
    world.settings(sending="approve")
    source = world.company.add(2001)
    world.sync()
    assert world.render() == ["held"]
    invoice_id = world.ours(source.Id)
    shown = world.shown(invoice_id)
    assert (shown["status"], shown["status_reason"]) == ("held", "awaiting_approval")
    assert world.dispatch_messages() == []  # never out by itself

    status, approvals = world.admin("GET", "/approvals", {"issuer_id": ISSUER_ID})
    assert status == 200 and [(i["id"], i["version"], i["number"]) for i in approvals["items"]] == [
        (invoice_id, 1, "2001")]
    assert approvals["items"][0]["pdf_url"]  # the office sees what it approves
    assert world.admin("GET", "/approvals", {"issuer_id": "another-issuer"})[1] == {"items": []}

    assert world.admin("POST", f"/invoices/{invoice_id}/approve") == (202, {"id": invoice_id, "status": "rendered"})
    assert world.admin("GET", "/approvals")[1] == {"items": []}
    [message] = world.dispatch_messages()
    assert world.dispatch(message).state == DeliveryState.SENT  # type: ignore[union-attr]
    assert len(mails_to(BUYER)) == 1
    shown = world.shown(invoice_id)
    assert shown["status"] == "sent" and shown["approval"]["by"] == OFFICE_USER
    assert any(e["detail"] == f"v1 approved by {OFFICE_USER}" for e in shown["events"])

    again = world.admin("POST", f"/invoices/{invoice_id}/approve")  # only what waits for approval
    assert again[0] == 409 and again[1]["error"]["code"] == "invalid_state"
    assert world.admin("POST", "/invoices/nope/approve")[0] == 404


def test_an_approved_invoice_changed_at_the_source_before_it_goes_out_needs_approval_again(world: World) -> None:
    world.settings(sending="approve")
    source = world.company.add(2002)
    world.sync()
    world.render()
    invoice_id = world.ours(source.Id)
    assert world.admin("POST", f"/invoices/{invoice_id}/approve")[0] == 202
    [message] = world.dispatch_messages()

    world.company.change(source.Id, YourReference="Projekt 7")  # edited after the approval, before dispatch
    assert world.dispatch(message) is None  # looked at before the claim: nothing recorded, nothing sent
    assert world.ledger.get(invoice_id, 1) is None
    assert mails_to(BUYER) == []  # the approved version never went out
    assert world.render() == ["held"]
    shown = world.shown(invoice_id)
    assert (shown["status"], shown["status_reason"], shown["version"]) == ("held", "awaiting_approval", 2)
    assert any("changed at the source just before sending: re-rendered as version 2" in e["detail"]
               for e in shown["events"])
    assert [i["version"] for i in world.admin("GET", "/approvals")[1]["items"]] == [2]


def test_a_send_delay_holds_each_invoice_until_its_time_and_a_change_starts_it_again(world: World) -> None:
    world.settings(send_delay_hours=2)
    steady, edited, paid = (world.company.add(n) for n in (2101, 2102, 2103))
    world.sync()
    assert world.render() == ["held"] * 3
    for source in (steady, edited, paid):
        shown = world.shown(world.ours(source.Id))
        assert (shown["status"], shown["status_reason"]) == ("held", "send_delay")
        assert datetime.fromisoformat(shown["send_at"]) == source.ModifiedUtc + timedelta(hours=2)
    first_send_at = datetime.fromisoformat(world.shown(world.ours(edited.Id))["send_at"])

    world.company.change(edited.Id, YourReference="Ny referens")  # during the delay
    world.company.change(paid.Id, PaymentStatus=0, RemainingAmount=0)
    world.sync()
    assert world.render() == ["held"]
    renewed = world.shown(world.ours(edited.Id))
    assert (renewed["status_reason"], renewed["version"]) == ("send_delay", 2)
    assert datetime.fromisoformat(renewed["send_at"]) > first_send_at  # the wait starts again
    cancelled = world.shown(world.ours(paid.Id))
    assert (cancelled["status"], cancelled["status_reason"]) == ("cancelled", "paid")

    def release_due(at: datetime) -> int:
        return release_due_invoices(invoices=world.invoices, dispatch_queue=_queue(world), now=at).handed_on

    assert release_due(datetime.now(UTC)) == 0
    renewed_send_at = datetime.fromisoformat(renewed["send_at"])
    assert release_due(renewed_send_at - timedelta(microseconds=1)) == 1  # the steady one's time came first
    [message] = world.dispatch_messages()
    assert message == {"invoice_id": world.ours(steady.Id), "version": 1, **WHOSE}
    assert world.dispatch(message).state == DeliveryState.SENT  # type: ignore[union-attr]
    assert world.shown(world.ours(edited.Id))["status"] == "held"  # still in its renewed wait
    assert release_due(renewed_send_at + timedelta(microseconds=1)) == 1
    assert world.dispatch_messages() == [{"invoice_id": world.ours(edited.Id), "version": 2, **WHOSE}]
    events = [e["detail"] for e in world.shown(world.ours(edited.Id))["events"]]
    assert events[-1] == "send delay over"


def test_paid_just_before_sending_is_cancelled_not_sent(world: World) -> None:
    source = world.company.add(2201)
    world.sync()
    assert world.render() == ["rendered"]
    [message] = world.dispatch_messages()
    world.company.change(source.Id, PaymentStatus=0, RemainingAmount=0)  # paid; no sync has seen it
    reads = world.company.requests(INVOICE_READ)

    assert world.dispatch(message) is None  # the look comes before the claim: nothing recorded, nothing sent
    assert mails_to(BUYER) == []
    shown = world.shown(world.ours(source.Id))
    assert (shown["status"], shown["status_reason"]) == ("cancelled", "paid")
    assert shown["events"][-1]["detail"] == "paid at the source just before sending; v1 not sent"
    assert world.ledger.get(world.ours(source.Id), 1) is None
    assert world.company.requests(INVOICE_READ) == reads + 1  # one read, inside the budget's hook
    assert world.dispatch(message) is None
    assert mails_to(BUYER) == []  # a redelivered message sends nothing either


def test_an_invoice_the_sync_replaces_right_after_the_fresh_look_is_not_sent(world: World) -> None:
    """The look comes before the claim: a change the sync stores between the two fails the claim's
    condition (this version, `rendered`), so the version the look passed never goes out; the next does."""
    source = world.company.add(2204)
    world.sync()
    world.render()
    [message] = world.dispatch_messages()
    services = world.dispatch_services()
    look = services.fresh_look

    def look_then_the_sync_replaces_it(invoice: Invoice, issuer: Issuer) -> FreshLook:
        found = look(invoice, issuer)
        world.company.change(source.Id, YourReference="Projekt 11")
        world.sync()
        return found

    changed_meanwhile = replace(services, fresh_look=look_then_the_sync_replaces_it)
    assert dispatch_invoice(message["invoice_id"], message["version"], changed_meanwhile) is None
    assert mails_to(BUYER) == []
    invoice_id = world.ours(source.Id)
    shown = world.shown(invoice_id)
    assert (shown["status"], shown["version"]) == ("queued", 2)
    assert world.render() == ["rendered"]
    [again] = world.dispatch_messages()
    assert again["version"] == 2 and world.dispatch(again).state == DeliveryState.SENT  # type: ignore[union-attr]
    [mail] = mails_to(BUYER)
    assert world.dispatch(message) is None and len(mails_to(BUYER)) == 1  # v1's message, redelivered


class Crash(Exception):
    """The Lambda died here."""


class CrashAfterClosing(DynamoDeliveryLedger):
    """Dies right after the fresh look closed the delivery, before the invoice was moved."""

    def transition(
        self, delivery: Delivery, from_states: Sequence[str], invoice_move: InvoiceMove | None = None
    ) -> bool:
        moved = super().transition(delivery, from_states, invoice_move)
        if delivery.state == DeliveryState.CANCELLED:
            raise Crash
        return moved


def test_a_crash_between_closing_the_delivery_and_moving_the_invoice_never_strands_it(world: World) -> None:
    """A delivery recorded `queued` with its claim (the source was not readable at the first claim) is
    closed before the invoice moves: a crash in between must not strand the claimed invoice."""
    source = world.company.add(2202)
    world.sync()
    world.render()
    [message] = world.dispatch_messages()
    world.company.faults(rate_5xx=1.0)
    with pytest.raises(SourceUnavailable):
        world.dispatch(message)
    world.company.faults(rate_5xx=0.0)
    world.company.change(source.Id, PaymentStatus=0, RemainingAmount=0)
    world.ledger = CrashAfterClosing(TABLE)
    with pytest.raises(Crash):
        world.dispatch(message)
    invoice_id = world.ours(source.Id)
    assert world.invoices.get(invoice_id).status.value == "sending"  # claimed, its delivery closed unsent

    world.ledger = DynamoDeliveryLedger(TABLE)
    assert world.dispatch(message).state == DeliveryState.CANCELLED  # type: ignore[union-attr]  # redelivered
    shown = world.shown(invoice_id)
    assert (shown["status"], shown["version"]) == ("queued", 2)  # the same content goes through again
    assert world.render() == ["rendered"]
    [again] = world.dispatch_messages()
    assert world.dispatch(again) is None  # v2's first claim looks first: paid, so nothing is recorded
    shown = world.shown(invoice_id)
    assert (shown["status"], shown["status_reason"], shown["version"]) == ("cancelled", "paid", 2)
    assert mails_to(BUYER) == []


class CrashBeforeHandingOn(SqsWorkQueue):
    """Dies right before the render message of the next version goes out: the version is stored, its message
    is not (the soak's "dispatch→render" crash point, issue 12 point 2)."""

    def send(self, message: Mapping[str, object], deduplication_id: str | None = None) -> None:
        raise Crash


def test_a_next_version_whose_render_message_a_crash_lost_is_handed_on_by_the_redelivered_message(
    world: World,
) -> None:
    source = world.company.add(2203)
    world.sync()
    world.render()
    [message] = world.dispatch_messages()
    world.company.change(source.Id, YourReference="Projekt 9")  # edited just before sending
    with pytest.raises(Crash):
        world.dispatch(message, render_queue=CrashBeforeHandingOn(world.render_queue_url))
    invoice_id = world.ours(source.Id)
    shown = world.shown(invoice_id)
    assert (shown["status"], shown["version"]) == ("queued", 2)  # stored, and no render message out

    assert world.dispatch(message) is None  # v1's message, redelivered: stale, but it hands v2 on
    assert world.render() == ["rendered"]
    [again] = world.dispatch_messages()
    assert again["version"] == 2 and world.dispatch(again).state == DeliveryState.SENT  # type: ignore[union-attr]
    [mail] = mails_to(BUYER)
    assert world.shown(invoice_id)["status"] == "sent"
    assert world.dispatch(message) is None and world.render() == []  # nothing more once v2 went on


def credit_of(world: World, original_id: str, number: int) -> None:
    """As Spiris credits an invoice: a credit invoice that refers to it, and the original marked credited."""
    credit = world.company.add(
        number, IsCreditInvoice=True, ReferringInvoiceId=original_id, **credit_note_fields()
    )
    world.company.change(original_id, CreditedBy=[{"CreditInvoiceId": credit.Id}], RemainingAmount=0,
                         RemainingAmountInvoiceCurrency=0)


def test_a_credit_note_waits_for_its_original_and_is_never_sent_for_one_that_did_not_go_out(world: World) -> None:
    """The sync selects a credit note once its original is being sent (it counts `sending` as gone out),
    but the original's fresh look can still cancel it: the credit note goes out only after its original."""
    original = world.company.add(2701)
    world.sync()
    world.render()
    [original_message] = world.dispatch_messages()
    world.company.faults(rate_5xx=1.0)
    with pytest.raises(SourceUnavailable):  # claimed (`sending`), its fresh look not done yet
        world.dispatch(original_message)
    world.company.faults(rate_5xx=0.0)
    credit_of(world, original.Id, 52701)
    world.sync()
    assert world.render() == ["rendered"]  # the credit note of an original being sent
    [credit_message] = world.dispatch_messages()
    credit_id = credit_message["invoice_id"]

    with pytest.raises(OriginalNotSettled):  # retried later: its original's fate is not known yet
        world.dispatch(credit_message)
    assert mails_to(BUYER) == []
    assert world.dispatch(original_message).state == DeliveryState.CANCELLED  # type: ignore[union-attr]
    assert world.dispatch(credit_message) is None
    shown = world.shown(credit_id)
    assert (shown["status"], shown["status_reason"]) == ("cancelled", "original_not_sent")
    assert "2701" in shown["events"][-1]["detail"]
    assert mails_to(BUYER) == []  # neither went out


def test_a_credit_note_goes_out_once_its_original_went_out(world: World) -> None:
    original = world.company.add(2702)
    world.sync()
    world.render()
    [original_message] = world.dispatch_messages()
    assert world.dispatch(original_message).state == DeliveryState.SENT  # type: ignore[union-attr]
    credit_of(world, original.Id, 52702)
    world.sync()
    assert world.render() == ["rendered"]
    [credit_message] = world.dispatch_messages()
    assert world.dispatch(credit_message).state == DeliveryState.SENT  # type: ignore[union-attr]
    assert len(mails_to(BUYER)) == 2


def test_an_unchanged_invoice_goes_out_after_one_read(world: World) -> None:
    source = world.company.add(2301)
    world.sync()
    world.render()
    [message] = world.dispatch_messages()
    reads = world.company.requests(INVOICE_READ)
    assert world.dispatch(message).state == DeliveryState.SENT  # type: ignore[union-attr]
    assert world.company.requests(INVOICE_READ) == reads + 1
    assert world.company.requests("GET /v2/customers/{customer_id}") == 1  # the sync's; none for the look
    assert world.shown(world.ours(source.Id))["status"] == "sent"


def test_when_spiris_cannot_be_read_nothing_is_sent_until_it_can(world: World) -> None:
    source = world.company.add(2401)
    world.sync()
    world.render()
    [message] = world.dispatch_messages()
    world.company.faults(rate_5xx=1.0)
    with pytest.raises(SourceUnavailable):
        world.dispatch(message)
    invoice = world.invoices.get(world.ours(source.Id))
    assert invoice.status.value == "sending" and world.ledger.get(invoice.id, 1).state == DeliveryState.QUEUED  # type: ignore[union-attr]
    assert mails_to(BUYER) == []
    with pytest.raises(SourceUnavailable):  # the message comes back after its backoff: still unreadable
        world.dispatch(message)
    told = [e for e in world.shown(invoice.id)["events"] if e["status"] == "source_unavailable"]
    assert len(told) == 1, "the office is told once, not at every retry"

    world.company.faults(rate_5xx=0.0)
    assert world.dispatch(message).state == DeliveryState.SENT  # type: ignore[union-attr]
    assert len(mails_to(BUYER)) == 1


def test_an_integration_that_needs_a_new_consent_fails_the_invoice_with_a_notice(world: World) -> None:
    source = world.company.add(2501)
    world.sync()
    world.render()
    [message] = world.dispatch_messages()
    integration = world.integrations.get(INTEGRATION_ID)
    world.integrations.put(integration.model_copy(update={"status": IntegrationStatus.NEEDS_RECONSENT}))

    assert world.dispatch(message) is None  # failed before the claim: no delivery recorded
    assert world.ledger.get(world.ours(source.Id), 1) is None
    assert mails_to(BUYER) == []
    shown = world.shown(world.ours(source.Id))
    assert shown["status"] == "failed" and "needs_reconsent" in shown["status_reason"]
    [notice] = mails_to("ekonomi@exempel.se")
    assert "2501" in notice["Subject"] and "kunde inte kontrolleras mot Spiris" in str(notice.get_payload())
    status, failures = world.admin("GET", "/failures")
    assert [i["id"] for i in failures["invoices"]] == [world.ours(source.Id)]


def _queue(world: World):  # type: ignore[no-untyped-def]
    from invoice_bridge.adapters.sqs_queue import SqsWorkQueue

    return SqsWorkQueue(world.dispatch_queue_url)


ISSUER_MAIL = "ekonomi@exempel.se"
DISAGREES = "fidelity failed: it does not agree with what Spiris booked: gross_total: ours 1250.00, source 1251.00"


def test_a_change_just_before_sending_that_does_not_agree_with_itself_fails_its_next_version_once(
    world: World,
) -> None:
    """The fresh look maps the changed source into the next version and reconciles it with that source, as
    the sync does (render/fidelity.py): Spiris now states 1 251 for rows that make 1 250, so neither version
    goes out. The next version is stored failed with the difference and the issuer told once; the message
    redelivered, and the sync that reads the same source version, tell nothing more; the correction in
    Spiris goes through."""
    source = world.company.add(2601)
    world.sync()
    assert world.render() == ["rendered"]
    [message] = world.dispatch_messages()
    world.company.change(source.Id, TotalAmountInvoiceCurrency=Decimal("1251.00"))  # no sync has seen it

    assert world.dispatch(message) is None
    invoice_id = world.ours(source.Id)
    assert mails_to(BUYER) == [] and world.ledger.get(invoice_id, 1) is None
    assert world.ledger.get(invoice_id, 2) is None and world.render() == []  # never rendered, never sent
    shown = world.shown(invoice_id)
    assert (shown["status"], shown["version"], shown["status_reason"]) == ("failed", 2, DISAGREES)
    assert shown["events"][-1]["detail"] == f"changed at the source just before sending: v2 {DISAGREES}; v1 not sent"
    [notice] = mails_to(ISSUER_MAIL)
    assert "2601" in notice["Subject"] and DISAGREES in notice.get_content()

    assert world.dispatch(message) is None  # redelivered: stale, its next version failed
    assert (mails_to(BUYER), len(mails_to(ISSUER_MAIL)), world.render()) == ([], 1, [])

    assert world.sync().parked == 1  # the sync reads the same version: parked, the notice already went out
    [parked] = DynamoDecisionStore(TABLE).parked(ISSUER_ID)
    assert (parked.decision.reason, parked.decision.notified) == ("fidelity", True)
    assert len(mails_to(ISSUER_MAIL)) == 1

    world.company.change(source.Id, TotalAmountInvoiceCurrency=Decimal("1250.00"))  # corrected in Spiris
    world.sync()
    assert world.render() == ["rendered"]
    [again] = world.dispatch_messages()
    assert again["version"] == 3 and world.dispatch(again).state == DeliveryState.SENT  # type: ignore[union-attr]
    [mail] = mails_to(BUYER)
    assert world.shown(invoice_id)["status"] == "sent" and len(mails_to(ISSUER_MAIL)) == 1


def test_a_claimed_invoice_whose_source_no_longer_agrees_with_itself_is_not_sent(world: World) -> None:
    """The same look after the claim (the source was not readable at the first claim): the delivery is
    closed unsent, the next version failed with the difference, the issuer told once."""
    source = world.company.add(2602)
    world.sync()
    world.render()
    [message] = world.dispatch_messages()
    world.company.faults(rate_5xx=1.0)
    with pytest.raises(SourceUnavailable):
        world.dispatch(message)
    world.company.faults(rate_5xx=0.0)
    world.company.change(source.Id, TotalAmountInvoiceCurrency=Decimal("1251.00"))

    assert world.dispatch(message).state == DeliveryState.CANCELLED  # type: ignore[union-attr]
    assert world.dispatch(message) is None  # redelivered: stale
    invoice_id = world.ours(source.Id)
    shown = world.shown(invoice_id)
    assert (shown["status"], shown["version"], shown["status_reason"]) == ("failed", 2, DISAGREES)
    assert mails_to(BUYER) == [] and world.render() == [] and len(mails_to(ISSUER_MAIL)) == 1


def test_a_change_just_before_sending_that_cannot_be_converted_cancels_the_stale_version_and_the_sync_parks_it(
    world: World,
) -> None:
    """The fresh look cannot map the changed source (its rows are gone): the version we have is stale and
    does not go out, and the message ends there, not retried into its dead-letter queue. The next sync parks
    the source (and tells the issuer), as it does any source it cannot map; the correction goes out."""
    source = world.company.add(2603)
    world.sync()
    assert world.render() == ["rendered"]
    [message] = world.dispatch_messages()
    rows = world.company.api().customer_invoice(source.Id).Rows
    world.company.change(source.Id, Rows=[])  # no sync has seen it

    assert world.dispatch(message) is None  # done: no exception, so no retry
    invoice_id = world.ours(source.Id)
    shown = world.shown(invoice_id)
    assert (shown["status"], shown["version"], shown["status_reason"]) == ("cancelled", 1, "unmappable")
    assert mails_to(BUYER) == [] and world.ledger.get(invoice_id, 1) is None and world.render() == []

    assert world.sync().parked == 1  # its notice is the sync's (tests/integration/fetch)
    [parked] = DynamoDecisionStore(TABLE).parked(ISSUER_ID)
    assert parked.decision.reason == "unmappable" and "no rows" in parked.decision.detail
    assert world.dispatch(message) is None and mails_to(BUYER) == []  # redelivered: nothing more

    world.company.change(source.Id, Rows=[row.model_dump(mode="json") for row in rows])  # corrected in Spiris
    world.sync()
    assert world.render() == ["rendered"]
    [again] = world.dispatch_messages()
    assert again["version"] == 2 and world.dispatch(again).state == DeliveryState.SENT  # type: ignore[union-attr]
    assert len(mails_to(BUYER)) == 1
