"""Two duplicate dispatch messages after a run died inside its call and its lease ran out: both meet the
same run-out intent, handled at once by two Lambda instances. Only one may reconcile it. The other must
neither ask the operator, send, nor notify: it goes back to the queue until the winner's lease ends, and
then finds the delivery done. Without that, an e-mail's issuer is told twice that its outcome is unknown,
and an e-invoice is reconciled by both (the operator deduplicates the upload by our id, but both work).

And a message that meets a lease comes back once the lease has run out (plus a few seconds), not after the
generic backoff (30 s: far too soon under a 120 s lease, then 2 min and 5 min): the record's visibility as
moto's SQS holds it.

Through the dispatch Lambda's handler (two cold instances), on moto (DynamoDB, S3, SES, SQS) and the
operator sandbox over HTTP; the second instance runs from inside the first one: either both read the
run-out intent and the second takes it over and enters its call while the first goes on to write (the
lease's condition alone keeps the first out), or the second runs inside the first's reconcile (the
operator's `find`, the issuer's notice).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any, cast

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
)
from invoice_bridge import wiring
from invoice_bridge.adapters.dynamo_deliveries import DynamoDeliveryLedger
from invoice_bridge.adapters.ses_mailer import SesMailer
from invoice_bridge.dispatch import dispatch_invoice
from invoice_bridge.models.delivery import Delivery, DeliveryState
from invoice_bridge.models.invoice import InvoiceStatus
from invoice_bridge.ports import InvoiceMove, Mail, Operator, OperatorDocument, Receiver
from lambda_functions import FunctionContext, batch_event, cold_start

from sandbox.aws import REGION

MESSAGE = '{"invoice_id": "inv1", "version": 1}'
ISSUER_NOTICES, BUYER = "byra@example.com", "kund@example.com"


class Duplicate:
    """One dispatch message, received now and handled by its own cold instance of the function when asked."""

    def __init__(self, queue_url: str):
        self.instance = cold_start("dispatch")
        self.event = batch_event(queue_url, size=1)
        assert len(self.event["Records"]) == 1
        self.answers: list[dict[str, Any]] = []

    @property
    def message_id(self) -> str:
        return str(self.event["Records"][0]["messageId"])

    def handle(self) -> dict[str, Any]:
        answer = dict(self.instance.lambda_handler(self.event, FunctionContext()))
        self.answers.append(answer)
        return answer

    def went_back(self, answer: dict[str, Any]) -> bool:
        return answer == {"batchItemFailures": [{"itemIdentifier": self.message_id}]}


class Died(BaseException):
    """The Lambda died (a BaseException: nothing is tidied up)."""


class DiesAfterTheIntent(DynamoDeliveryLedger):
    """The real ledger; the run dies right after its intent, as one dying inside the call leaves it."""

    def create(self, delivery: Delivery, invoice_move: InvoiceMove | None = None) -> bool:
        created = super().create(delivery, invoice_move)
        if delivery.state == DeliveryState.SENDING:
            raise Died("inside the call")
        return created


class Interleave:
    """How the second instance's run goes with the first's, from inside the first one.

    "both take over": the first has read the run-out intent; the second runs (a thread: another instance)
    until it is inside its reconcile's call (the operator's `find`, the issuer's notice), having read and
    taken over the same intent, and waits there while the first goes on from its read; then it finishes.
    "inside the reconcile": the second runs whole from inside the first's reconcile call."""

    def __init__(self, mode: str):
        self.mode, self.other = mode, cast(Duplicate | None, None)
        self.thread: threading.Thread | None = None
        self.paused, self.go_on = threading.Event(), threading.Event()

    def after_read(self) -> None:
        if self.mode != "both take over" or self.other is None or self.thread is not None:
            return
        self.thread = threading.Thread(target=self._second, args=(self.other,))
        self.other = None
        self.thread.start()
        assert self.paused.wait(10), "the second run reached its call"

    def _second(self, other: Duplicate) -> None:
        try:
            other.handle()
        finally:
            self.paused.set()

    def in_call(self) -> None:
        if self.mode == "inside the reconcile":
            other, self.other = self.other, None
            if other is not None:
                other.handle()
        elif threading.current_thread() is self.thread and not self.paused.is_set():
            self.paused.set()
            assert self.go_on.wait(10), "the first run went on"

    def finish(self) -> None:
        self.go_on.set()
        if self.thread is not None:
            self.thread.join(20)


class LedgerReadMeanwhile(DynamoDeliveryLedger):
    """The real ledger; right after a run read the delivery, the interleaving may let the other run go."""

    def __init__(self, table: str, interleave: Interleave):
        super().__init__(table)
        self.interleave = interleave

    def get(self, invoice_id: str, version: int) -> Delivery | None:
        read = super().get(invoice_id, version)
        self.interleave.after_read()
        return read


class CountingOperator:
    """The issuer's real adapter, counting uploads and finds; `find` is a point of the interleaving."""

    def __init__(self, inner: Operator, interleave: Interleave):
        self.inner, self.interleave = inner, interleave
        self.sends = self.finds = 0

    def send_einvoice(self, ubl: bytes, idempotency_id: str, receiver: Receiver) -> OperatorDocument:
        self.sends += 1
        return self.inner.send_einvoice(ubl, idempotency_id, receiver)

    def find(self, idempotency_id: str) -> OperatorDocument | None:
        self.finds += 1
        self.interleave.in_call()
        return self.inner.find(idempotency_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class NoticeMeanwhile(SesMailer):
    """The real SES mailer; a mail (the issuer's notice) is a point of the interleaving."""

    def __init__(self, sender: str, interleave: Interleave):
        super().__init__(sender)
        self.interleave = interleave

    def send(self, mail: Mail) -> str:
        self.interleave.in_call()
        return super().send(mail)


@pytest.fixture
def queue_url(stack: Stack) -> str:
    """The dispatch queue, holding the two duplicates."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="dispatch")["QueueUrl"]
    for _ in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=MESSAGE)
    return url


def _dead_runs_intent(stack: Stack, operator: Operator | None) -> None:
    """A run that wrote its intent a lease and a bit ago and died inside the call."""
    past = datetime.now(UTC) - LEASE - timedelta(seconds=5)
    services = stack.services(operator_for=lambda _issuer: operator, ledger=DiesAfterTheIntent(TABLE))
    with pytest.raises(Died):
        dispatch_invoice("inv1", 1, services, now=lambda: past)
    intent = stack.ledger.get("inv1", 1)
    assert intent is not None and intent.state == DeliveryState.SENDING and intent.sending_at == past


def _race(queue_url: str, services: Any, interleave: Interleave) -> Duplicate:
    """Both duplicates received; the first handled, the second as `interleave` says. Returns the loser:
    gone back to the queue until the winner's lease has run out (the winner's message is done)."""
    first, second = Duplicate(queue_url), Duplicate(queue_url)
    interleave.other = second
    with wiring.override(dispatch_services=services):
        try:
            first.handle()
        finally:
            interleave.finish()
    assert interleave.other is None and len(second.answers) == 1, "the second instance ran meanwhile"
    [winner, loser] = [first, second] if second.went_back(second.answers[0]) else [second, first]
    assert loser.went_back(loser.answers[0]), "the loser goes back to the queue"
    assert winner.answers == [{"batchItemFailures": []}], "the winner reconciles"
    return loser


@pytest.mark.parametrize("mode", ["both take over", "inside the reconcile"])
def test_two_duplicates_after_a_run_out_email_lease_notify_once(stack: Stack, queue_url: str, mode: str) -> None:
    stack.add(make_issuer(), make_invoice(buyer_org=None, buyer_email=BUYER))
    _dead_runs_intent(stack, None)
    interleave = Interleave(mode)
    mailer = NoticeMeanwhile("invoices@example.com", interleave)
    services = stack.services(operator_for=lambda _issuer: None, mailer=mailer,
                              ledger=LedgerReadMeanwhile(TABLE, interleave))
    loser = _race(queue_url, services, interleave)
    assert [m["To"] for m in sent_mails()] == [ISSUER_NOTICES], "one notice, no mail to the buyer"
    back_once_the_lease_has_run_out("dispatch", loser.message_id)
    delivery = stack.ledger.get("inv1", 1)
    assert delivery is not None and delivery.state == DeliveryState.FAILED
    invoice = stack.invoices.get("inv1")
    assert invoice.status == InvoiceStatus.FAILED and "did not confirm" in (invoice.status_reason or "")
    with wiring.override(dispatch_services=stack.services(operator_for=lambda _issuer: None)):
        assert loser.handle() == {"batchItemFailures": []}, "back after the lease: done, nothing to do"
    assert len(sent_mails()) == 1
    assert stack.ledger.get("inv1", 1) == delivery


@pytest.mark.parametrize("mode", ["both take over", "inside the reconcile"])
def test_two_duplicates_after_a_run_out_einvoice_lease_reconcile_once(stack: Stack, queue_url: str, mode: str) -> None:
    stack.add(make_issuer(), make_invoice())
    _dead_runs_intent(stack, stack.operator_for(make_issuer()))
    interleave = Interleave(mode)
    operator = CountingOperator(stack.operator_for(make_issuer()), interleave)
    services = stack.services(operator_for=lambda _issuer: operator, ledger=LedgerReadMeanwhile(TABLE, interleave))
    loser = _race(queue_url, services, interleave)
    assert (operator.finds, operator.sends) == (1, 1), "asked once by our id; not there, so sent once"
    assert len(operator_documents(stack.operator_url)) == 1
    back_once_the_lease_has_run_out("dispatch", loser.message_id)
    delivery = stack.ledger.get("inv1", 1)
    assert delivery is not None and delivery.state == DeliveryState.SENT and delivery.attempts == 2
    assert stack.invoices.get("inv1").status == InvoiceStatus.SENT
    with wiring.override(dispatch_services=stack.services(operator_for=lambda _issuer: operator)):
        assert loser.handle() == {"batchItemFailures": []}, "back after the lease: sent, nothing to do"
    assert (operator.finds, operator.sends) == (1, 1)
    assert stack.ledger.get("inv1", 1) == delivery
    assert sent_mails() == []
