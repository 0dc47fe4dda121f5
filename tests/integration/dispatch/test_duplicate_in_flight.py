"""A duplicate dispatch message that arrives while the original run is still inside its outside call (the
operator's upload, SES's SendEmail). SQS delivers at least once, and several pollers share the queue, so
the duplicate is handled by a second Lambda instance at that very moment. It must not take the open call
for a dead one and reconcile: that would send the e-invoice again with the same id while the first call
is open, or fail an e-mail in flight as `outcome_unknown`. It goes back to the queue instead, and the
original ends `sent`; a later retry of the duplicate finds `sent` and does nothing.

Through the dispatch Lambda's handler (two instances, each its own cold start), on moto (DynamoDB, S3,
SES, SQS) and the operator sandbox over HTTP; the second instance runs from inside the first one's call.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from dispatch_support import Stack, make_invoice, make_issuer, operator_documents, sent_mails
from invoice_bridge import wiring
from invoice_bridge.adapters.ses_mailer import SesMailer
from invoice_bridge.models.delivery import DeliveryState
from invoice_bridge.models.invoice import InvoiceStatus
from invoice_bridge.ports import Letter, Mail, Operator, OperatorDocument, Receiver
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
    boto3.client("dynamodb", region_name=REGION).create_table(  # Powertools idempotency's (IDEMPOTENCY_TABLE_NAME)
        TableName="IdempotencyTable", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
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
        delivery = stack.ledger.get("inv1", 1)
        assert delivery is not None and delivery.state == DeliveryState.SENT
        assert stack.invoices.get("inv1").status == InvoiceStatus.SENT
        assert duplicate.handle() == {"batchItemFailures": []}
    assert [m["To"] for m in sent_mails()] == ["kund@example.com"], "one mail to the buyer, no failure notice"
    assert stack.ledger.get("inv1", 1) == delivery
