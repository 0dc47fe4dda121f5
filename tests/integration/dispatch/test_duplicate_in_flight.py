"""A duplicate dispatch message that arrives while the original run is still inside its outside call (the
operator's upload, SES's SendEmail). SQS delivers at least once, and several pollers share the queue, so
the duplicate is handled by a second Lambda instance at that very moment. It must not take the open call
for a dead one and reconcile: that would send the e-invoice again with the same id while the first call
is open, or fail an e-mail in flight as `outcome_unknown`. It goes back to the queue instead, and the
original ends `sent`; a later retry of the duplicate finds `sent` and does nothing. It comes back once the
lease has run out (a few seconds after), not after the generic backoff: its visibility as moto's SQS holds it.

Through the dispatch Lambda's handler (two instances, each its own cold start), on moto (DynamoDB, S3,
SES, SQS) and the operator sandbox over HTTP; the second instance runs from inside the first one's call.

What catches it is the delivery's lease (dispatch/service.py): the intent's `sending_at`, younger than the
lease, keeps every other run from reconciling. The lease tests below move the dispatch's clock: a dead
run's intent is reconciled once the lease has run out, a reconcile that sends again takes the lease anew,
and a run whose call got no answer gives it back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from dispatch_support import (
    LEASE,
    TABLE,
    Stack,
    back_once_the_lease_has_run_out,
    make_invoice,
    make_issuer,
    operator_documents,
    sent_mails,
    set_faults,
)
from invoice_bridge import wiring
from invoice_bridge.adapters.dynamo_deliveries import DynamoDeliveryLedger
from invoice_bridge.adapters.ses_mailer import SesMailer
from invoice_bridge.dispatch import (
    DispatchInProgress,
    OperatorOutcomeUnknown,
    OperatorUnavailable,
    dispatch_invoice,
    find_receiver,
)
from invoice_bridge.models.delivery import Delivery, DeliveryState
from invoice_bridge.models.invoice import InvoiceStatus
from invoice_bridge.ports import InvoiceMove, Letter, Mail, Operator, OperatorDocument, Receiver
from lambda_functions import FunctionContext, batch_event, cold_start

from sandbox.aws import REGION

MESSAGE = '{"invoice_id": "inv1", "version": 1}'


class Duplicate:
    """The duplicate message, handled by a second instance of the dispatch function when asked."""

    def __init__(self, queue_url: str):
        self.queue_url = queue_url
        self.instance = cold_start("dispatch")
        self.event: dict[str, Any] = {}
        self.answers: list[dict[str, Any]] = []

    def receive(self) -> None:
        self.event = batch_event(self.queue_url, size=1)
        assert len(self.event["Records"]) == 1

    def handle(self) -> dict[str, Any]:
        answer = dict(self.instance.lambda_handler(self.event, FunctionContext()))
        self.answers.append(answer)
        return answer


class OperatorWithDuplicate:
    """The issuer's real adapter; the first upload lets the duplicate run first (the call is open)."""

    def __init__(self, inner: Operator, duplicate: Duplicate):
        self.inner, self.duplicate = inner, duplicate
        self.sends = self.finds = 0

    def send_einvoice(self, ubl: bytes, idempotency_id: str, receiver: Receiver) -> OperatorDocument:
        self.sends += 1
        if self.sends == 1:
            self.duplicate.handle()
        return self.inner.send_einvoice(ubl, idempotency_id, receiver)

    def send_print(self, letter: Letter, idempotency_id: str) -> OperatorDocument:
        self.sends += 1
        return self.inner.send_print(letter, idempotency_id)

    def find(self, idempotency_id: str) -> OperatorDocument | None:
        self.finds += 1
        return self.inner.find(idempotency_id)

    def __getattr__(self, name: str) -> Any:  # lookup, print settings, status: the real adapter's
        return getattr(self.inner, name)


class MailerWithDuplicate(SesMailer):
    """The real SES mailer; the first mail with the invoice attached lets the duplicate run first."""

    def __init__(self, sender: str, duplicate: Duplicate):
        super().__init__(sender)
        self.duplicate, self.invoice_mails = duplicate, 0

    def send(self, mail: Mail) -> str:
        if mail.attachments:
            self.invoice_mails += 1
            if self.invoice_mails == 1:
                self.duplicate.handle()
        return super().send(mail)


@pytest.fixture
def queue_url(stack: Stack) -> str:
    """The dispatch queue, holding the message and its duplicate."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="dispatch")["QueueUrl"]
    for _ in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=MESSAGE)
    return url


def _original(queue_url: str) -> tuple[Any, dict[str, Any]]:
    """The first instance and its event: the original message."""
    return cold_start("dispatch"), batch_event(queue_url, size=1)


def _went_back_to_the_queue(answer: dict[str, Any], duplicate: Duplicate) -> bool:
    [record] = duplicate.event["Records"]
    return answer == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}


def test_a_duplicate_while_the_einvoice_upload_is_open_goes_back_to_the_queue(stack: Stack, queue_url: str) -> None:
    stack.add(make_issuer(), make_invoice())
    original, event = _original(queue_url)
    duplicate = Duplicate(queue_url)
    duplicate.receive()
    operator = OperatorWithDuplicate(stack.operator_for(make_issuer()), duplicate)
    with wiring.override(dispatch_services=stack.services(operator_for=lambda _issuer: operator)):
        assert original.lambda_handler(event, FunctionContext()) == {"batchItemFailures": []}
        [in_flight] = duplicate.answers
        assert _went_back_to_the_queue(in_flight, duplicate), "retried, not reconciled"
        back_once_the_lease_has_run_out("dispatch", duplicate.event["Records"][0]["messageId"])
        assert (operator.sends, operator.finds) == (1, 0), "the duplicate neither asked the operator nor sent"
        delivery = stack.ledger.get("inv1", 1)
        assert delivery is not None and delivery.state == DeliveryState.SENT and delivery.attempts == 1
        assert stack.invoices.get("inv1").status == InvoiceStatus.SENT
        # The duplicate comes back: the invoice is sent, nothing more happens.
        assert duplicate.handle() == {"batchItemFailures": []}
    assert (operator.sends, operator.finds) == (1, 0)
    assert len(operator_documents(stack.operator_url)) == 1
    assert stack.ledger.get("inv1", 1) == delivery


def test_a_duplicate_while_the_email_is_being_sent_goes_back_to_the_queue(stack: Stack, queue_url: str) -> None:
    stack.add(make_issuer(), make_invoice(buyer_org=None, buyer_email="kund@example.com"))
    original, event = _original(queue_url)
    duplicate = Duplicate(queue_url)
    duplicate.receive()
    mailer = MailerWithDuplicate("invoices@example.com", duplicate)
    services = stack.services(operator_for=lambda _issuer: None, mailer=mailer)
    with wiring.override(dispatch_services=services):
        assert original.lambda_handler(event, FunctionContext()) == {"batchItemFailures": []}
        [in_flight] = duplicate.answers
        assert _went_back_to_the_queue(in_flight, duplicate), "retried, not failed as outcome_unknown"
        back_once_the_lease_has_run_out("dispatch", duplicate.event["Records"][0]["messageId"])
        delivery = stack.ledger.get("inv1", 1)
        assert delivery is not None and delivery.state == DeliveryState.SENT
        assert stack.invoices.get("inv1").status == InvoiceStatus.SENT
        assert duplicate.handle() == {"batchItemFailures": []}
    assert [m["To"] for m in sent_mails()] == ["kund@example.com"], "one mail to the buyer, no failure notice"
    assert stack.ledger.get("inv1", 1) == delivery


# --- the lease: the intent keeps other runs out until the run that wrote it must be dead ----------------


class Died(BaseException):
    """The Lambda died (a BaseException: the run tidies nothing up, as a dead one cannot)."""


class DiesAfterTheIntent(DynamoDeliveryLedger):
    """The real ledger; the run dies right after writing its first intent (with the claim), before the call."""

    def create(self, delivery: Delivery, invoice_move: InvoiceMove | None = None) -> bool:
        created = super().create(delivery, invoice_move)
        if delivery.state == DeliveryState.SENDING and delivery.attempts == 1:
            raise Died("after writing the intent")
        return created


class Clock:
    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at


def _dispatch(stack: Stack, clock: Clock, operator: Any, ledger: DynamoDeliveryLedger | None = None) -> Delivery | None:
    services = stack.services(operator_for=lambda _issuer: operator, ledger=ledger or stack.ledger)
    return dispatch_invoice("inv1", 1, services, now=clock)


def test_a_dead_runs_intent_is_reconciled_only_once_the_lease_has_run_out(stack: Stack) -> None:
    stack.add(make_issuer(), make_invoice())
    clock, operator = Clock(), Counting(stack.operator_for(make_issuer()))
    with pytest.raises(Died):
        _dispatch(stack, clock, operator, ledger=DiesAfterTheIntent(TABLE))
    written = clock.at
    clock.at = written + LEASE - timedelta(seconds=1)  # the run may still be inside the call
    with pytest.raises(DispatchInProgress):
        _dispatch(stack, clock, operator)
    assert (operator.sends, operator.finds) == (0, 0)
    assert stack.ledger.get("inv1", 1).sending_at == written  # type: ignore[union-attr]
    clock.at = written + LEASE  # dead for sure: reconciled (not at the operator: sent with the same id)
    assert _dispatch(stack, clock, operator).state == DeliveryState.SENT  # type: ignore[union-attr]
    assert (operator.sends, operator.finds) == (1, 1)
    assert len(operator_documents(stack.operator_url)) == 1


def test_a_reconcile_that_sends_again_takes_the_lease_anew(stack: Stack) -> None:
    """The reconciling run is inside its own call now: a duplicate a moment later must not reconcile it."""
    stack.add(make_issuer(), make_invoice())
    clock, inner = Clock(), stack.operator_for(make_issuer())
    with pytest.raises(Died):
        _dispatch(stack, clock, Counting(inner), ledger=DiesAfterTheIntent(TABLE))
    clock.at += LEASE + timedelta(seconds=1)
    duplicate: list[BaseException | Delivery | None] = []

    def meanwhile() -> None:
        clock.at += timedelta(seconds=1)
        try:
            duplicate.append(_dispatch(stack, clock, Counting(inner)))
        except Exception as exc:
            duplicate.append(exc)

    operator = Counting(inner, during_first_send=meanwhile)
    assert _dispatch(stack, clock, operator).state == DeliveryState.SENT  # type: ignore[union-attr]
    assert [type(d) for d in duplicate] == [DispatchInProgress]
    assert len(operator_documents(stack.operator_url)) == 1
    assert stack.ledger.get("inv1", 1).attempts == 2  # type: ignore[union-attr]


def test_a_run_whose_call_got_no_answer_gives_the_lease_back(stack: Stack) -> None:
    """Alive, and no call of ours open: the retry reconciles at once instead of waiting out the lease."""
    stack.add(make_issuer(), make_invoice())
    clock = Clock()
    find_receiver(stack.operator_for(make_issuer()), "iss1", make_invoice().buyer)  # the timeout hits the upload
    set_faults(stack.operator_url, accept_then_timeout_rate=1.0)
    with pytest.raises(OperatorOutcomeUnknown):
        _dispatch(stack, clock, stack.operator_for(make_issuer()))
    held = stack.ledger.get("inv1", 1)
    assert held is not None and held.state == DeliveryState.SENDING and held.sending_at is None
    set_faults(stack.operator_url, accept_then_timeout_rate=0.0)
    operator = Counting(stack.operator_for(make_issuer()))
    assert _dispatch(stack, clock, operator).state == DeliveryState.SENT  # type: ignore[union-attr]
    assert (operator.sends, operator.finds) == (0, 1), "found by our id, not sent again"
    assert len(operator_documents(stack.operator_url)) == 1


def test_a_reconcile_whose_find_fails_gives_the_lease_it_took_back(stack: Stack) -> None:
    """The takeover comes before the operator is asked; a `find` that fails leaves no call of ours open, so
    the lease is given back and the retry reconciles at once, not a lease later."""
    stack.add(make_issuer(), make_invoice())
    clock = Clock()
    with pytest.raises(Died):
        _dispatch(stack, clock, stack.operator_for(make_issuer()), ledger=DiesAfterTheIntent(TABLE))
    clock.at += LEASE + timedelta(seconds=1)
    find_receiver(stack.operator_for(make_issuer()), "iss1", make_invoice().buyer)  # the token, before the faults
    set_faults(stack.operator_url, rate_5xx=1.0)
    with pytest.raises(OperatorUnavailable):
        _dispatch(stack, clock, stack.operator_for(make_issuer()))
    held = stack.ledger.get("inv1", 1)
    assert held is not None and held.state == DeliveryState.SENDING and held.sending_at is None
    set_faults(stack.operator_url, rate_5xx=0.0)
    operator = Counting(stack.operator_for(make_issuer()))
    assert _dispatch(stack, clock, operator).state == DeliveryState.SENT  # type: ignore[union-attr]
    assert (operator.sends, operator.finds) == (1, 1)
    assert len(operator_documents(stack.operator_url)) == 1


class Counting:
    """The issuer's real adapter, counting uploads and finds; `during_first_send` runs inside the first."""

    def __init__(self, inner: Operator, during_first_send: Callable[[], None] | None = None):
        self.inner, self.during_first_send = inner, during_first_send
        self.sends = self.finds = 0

    def send_einvoice(self, ubl: bytes, idempotency_id: str, receiver: Receiver) -> OperatorDocument:
        self.sends += 1
        if self.sends == 1 and self.during_first_send is not None:
            self.during_first_send()
        return self.inner.send_einvoice(ubl, idempotency_id, receiver)

    def find(self, idempotency_id: str) -> OperatorDocument | None:
        self.finds += 1
        return self.inner.find(idempotency_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
