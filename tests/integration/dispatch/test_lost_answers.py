"""Conditional writes whose answer is lost after DynamoDB applied them (sandbox/lost_responses.py): botocore's
own retry sends them again and meets the first attempt's write. That is the write done, never a lost race:
the invoice moves, the delivery is recorded once, the invoice is sent once.

Moto applies each request; the stand-in drops its answer as a read timeout (so the standard retry mode
retries it) and honours `ClientRequestToken` on transactions as DynamoDB does."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from dispatch_support import REGION, TABLE, Stack, make_invoice, make_issuer, operator_documents
from invoice_bridge.adapters.dynamo_deliveries import DynamoDeliveryLedger
from invoice_bridge.adapters.dynamo_invoices import DynamoInvoiceRepository
from invoice_bridge.models.delivery import Delivery, DeliveryState
from invoice_bridge.models.invoice import InvoiceEvent, InvoiceStatus
from invoice_bridge.ports import InvoiceMove

from sandbox.lost_responses import lose_dynamodb_answers, writes_item

_SINGLE = ("PutItem", "UpdateItem")


def _rendered(invoices: DynamoInvoiceRepository) -> None:
    invoices.put(make_invoice().model_copy(update={"status": InvoiceStatus.RENDERED}))


def test_an_invoice_move_whose_answer_is_lost_is_done_not_a_lost_race(aws) -> None:  # type: ignore[no-untyped-def]
    invoices = DynamoInvoiceRepository(TABLE)
    _rendered(invoices)
    sending = invoices.get("inv1").model_copy(update={"status": InvoiceStatus.SENDING})
    with lose_dynamodb_answers(writes_item(_SINGLE, "INVOICE#", "INVOICE")) as answers:
        invoices.transition(sending, {InvoiceStatus.RENDERED}, InvoiceEvent(status="sending", detail="claimed"))
    assert answers.lost == {"UpdateItem": 1} and answers.sent == {"UpdateItem": 2}  # botocore retried it
    assert invoices.get("inv1").status == InvoiceStatus.SENDING
    assert [e.detail for e in invoices.events("inv1")].count("claimed") == 1  # applied once


def test_an_invoice_written_on_its_read_whose_answer_is_lost_is_done(aws) -> None:  # type: ignore[no-untyped-def]
    invoices = DynamoInvoiceRepository(TABLE)
    _rendered(invoices)
    read = invoices.get("inv1")
    with lose_dynamodb_answers(writes_item(_SINGLE, "INVOICE#", "INVOICE")) as answers:
        invoices.put(read.model_copy(update={"number": "1002"}), expected_updated_at=read.updated_at)
    assert answers.lost == {"UpdateItem": 1}
    assert invoices.get("inv1").number == "1002"


def test_an_event_whose_answer_is_lost_is_kept_once(aws) -> None:  # type: ignore[no-untyped-def]
    invoices = DynamoInvoiceRepository(TABLE)
    _rendered(invoices)
    with lose_dynamodb_answers(writes_item(_SINGLE, "INVOICE#", "INVOICE")) as answers:
        invoices.add_event("inv1", InvoiceEvent(status="rendered", detail="routed by e-mail"))
    assert answers.lost == {"UpdateItem": 1}
    assert [e.detail for e in invoices.events("inv1")].count("routed by e-mail") == 1


def test_an_import_whose_answer_is_lost_is_this_import(aws) -> None:  # type: ignore[no-untyped-def]
    """The sync's import, a transaction: its token makes the retry the import's success (botocore would
    fill one in; the adapter sets it so that it never depends on that)."""
    invoices = DynamoInvoiceRepository(TABLE)
    with lose_dynamodb_answers(writes_item(["TransactWriteItems"], "INVOICE#")) as answers:
        assert invoices.create(make_invoice(), [InvoiceEvent(status="imported")]) is True
    assert answers.lost == {"TransactWriteItems": 1} and answers.sent == {"TransactWriteItems": 2}
    assert invoices.find_by_source("iss1", "src-inv1") is not None


def test_a_move_that_another_run_made_is_still_a_lost_race(aws) -> None:  # type: ignore[no-untyped-def]
    """The recognition is of this call's own write only: the same move made by someone else conflicts."""
    from invoice_bridge.ports import ConflictError

    invoices = DynamoInvoiceRepository(TABLE)
    _rendered(invoices)
    sending = invoices.get("inv1").model_copy(update={"status": InvoiceStatus.SENDING})
    invoices.transition(sending, {InvoiceStatus.RENDERED})
    with pytest.raises(ConflictError):
        invoices.transition(sending, {InvoiceStatus.RENDERED})


def _delivery(state: DeliveryState = DeliveryState.QUEUED) -> Delivery:
    return Delivery(invoice_id="inv1", version=1, channel="einvoice", operator_idempotency_id="idem", state=state)


def test_a_delivery_recorded_alone_whose_answer_is_lost_is_recorded_by_this_call(aws) -> None:  # type: ignore[no-untyped-def]
    ledger = DynamoDeliveryLedger(TABLE)
    with lose_dynamodb_answers(writes_item(_SINGLE, "INVOICE#", "DELIVERY#")) as answers:
        assert ledger.create(_delivery()) is True  # not "another run recorded it first"
    assert answers.lost == {"PutItem": 1} and answers.sent == {"PutItem": 2}
    assert ledger.create(_delivery()) is False  # a second call still finds it there


def test_a_delivery_move_alone_whose_answer_is_lost_is_done(aws) -> None:  # type: ignore[no-untyped-def]
    ledger = DynamoDeliveryLedger(TABLE)
    ledger.create(_delivery())
    sending = _delivery(DeliveryState.SENDING).model_copy(update={"attempts": 1})
    with lose_dynamodb_answers(writes_item(_SINGLE, "INVOICE#", "DELIVERY#")) as answers:
        ledger.transition(sending, [DeliveryState.QUEUED])  # no ConflictError: the intent is recorded
    assert answers.lost == {"PutItem": 1}
    assert ledger.get("inv1", 1).state == DeliveryState.SENDING  # type: ignore[union-attr]


def test_a_transaction_whose_answer_is_lost_is_applied_once_and_done(aws) -> None:  # type: ignore[no-untyped-def]
    invoices, ledger = DynamoInvoiceRepository(TABLE), DynamoDeliveryLedger(TABLE)
    invoices.put(make_invoice().model_copy(update={"status": InvoiceStatus.SENDING, "channel": "einvoice"}))
    ledger.create(_delivery(DeliveryState.SENDING))
    move = InvoiceMove(invoices.get("inv1").model_copy(update={"status": InvoiceStatus.SENT}),
                       {InvoiceStatus.SENDING}, InvoiceEvent(status="sent", detail="sent by einvoice"))
    sent = _delivery(DeliveryState.SENT).model_copy(update={"operator_invoice_id": "op-1"})
    with lose_dynamodb_answers(writes_item(["TransactWriteItems"], "INVOICE#")) as answers:
        assert ledger.transition(sent, [DeliveryState.SENDING], invoice_move=move) is True
    first, retry = answers.bodies
    assert answers.lost == {"TransactWriteItems": 1} and first == retry and first["ClientRequestToken"]
    assert ledger.get("inv1", 1).state == DeliveryState.SENT  # type: ignore[union-attr]
    assert invoices.get("inv1").status == InvoiceStatus.SENT
    assert [e.detail for e in invoices.events("inv1")].count("sent by einvoice") == 1


def _count_once(client: object, token: str, by: int = 1) -> None:
    client.transact_write_items(  # type: ignore[attr-defined]
        ClientRequestToken=token,
        TransactItems=[{"Update": {"TableName": TABLE, "Key": {"PK": {"S": "N"}, "SK": {"S": "N"}},
                                   "UpdateExpression": "ADD n :by", "ExpressionAttributeValues": {":by": {"N": str(by)}}}}],
    )


def test_the_stand_in_honours_client_request_tokens_as_dynamodb_does(aws) -> None:  # type: ignore[no-untyped-def]
    from sandbox.lost_responses import honour_client_request_tokens

    honour_client_request_tokens()
    client = boto3.client("dynamodb", region_name=REGION, config=Config(retries={"total_max_attempts": 1}))
    _count_once(client, "token-1")
    _count_once(client, "token-1")  # the same request again: answered, not applied
    _count_once(client, "token-2")
    item = client.get_item(TableName=TABLE, Key={"PK": {"S": "N"}, "SK": {"S": "N"}}, ConsistentRead=True)["Item"]
    assert item["n"] == {"N": "2"}
    with pytest.raises(ClientError) as refused:
        _count_once(client, "token-1", by=5)  # the same token with other parameters
    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"


def test_a_dispatch_whose_ledger_answers_are_lost_sends_once(stack: Stack) -> None:
    """The claim with the intent (one write) and the outcome each lose their first answer: one run still
    sends the invoice once and records it sent (once a lost intent read as "moved meanwhile", nothing sent)."""
    stack.add(make_issuer(), make_invoice())
    with lose_dynamodb_answers(writes_item([*_SINGLE, "TransactWriteItems"], "INVOICE#", "DELIVERY#"), times=10) as answers:
        delivery = stack.dispatch("inv1")
    assert answers.lost == {"TransactWriteItems": 2}
    assert delivery is not None and delivery.state == DeliveryState.SENT
    assert len(operator_documents(stack.operator_url)) == 1
    assert stack.invoices.get("inv1").status == InvoiceStatus.SENT
