"""The crash-point matrix of issue 6, on the strict operator sandbox and on both operators (Maventa's API
and InExchange's): each crash, then the queue's redelivery, gives one invoice at the operator, none lost,
none failed while the operator holds it (falsely failed), and the expected state. Crashes are raised by
a real subclass of the ledger and a wrapper of the real adapters (no patching); moto serves
DynamoDB/S3/SES and the operator sandbox answers over real HTTP.

`pytest -s -p no:randomly -n 0 tests/integration/dispatch/test_crash_matrix.py` prints the tally."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from dispatch_support import (
    BUYER_ORG,
    LEASE,
    PROVIDERS,
    Stack,
    after_the_lease,
    make_invoice,
    make_issuer,
    operator_documents,
    sent_mails,
    set_faults,
    ubl_for,
)
from invoice_bridge.adapters.dynamo_deliveries import DynamoDeliveryLedger
from invoice_bridge.adapters.ses_mailer import SesMailer
from invoice_bridge.dispatch import (
    OperatorOutcomeUnknown,
    OperatorUnavailable,
    dispatch_invoice,
    find_receiver,
    idempotency_id,
)
from invoice_bridge.models.delivery import Delivery, DeliveryState
from invoice_bridge.models.invoice import InvoiceStatus
from invoice_bridge.ports import InvoiceMove, Mail, Operator, OperatorDocument, Receiver

TALLY: Counter[str] = Counter()


class Crash(BaseException):
    """The Lambda died here (timeout, out of memory, container lost): no `except Exception` sees it, so
    the run tidies nothing up (its lease is not given back)."""


class CrashingLedger(DynamoDeliveryLedger):
    """Crashes once on the write that records `crash_state` (the first intent is recorded with the claim,
    by `create`; later ones by `transition`), before or after the write."""

    def __init__(self, table: str, crash_state: DeliveryState, after_write: bool):
        super().__init__(table)
        self.crash_state, self.after_write, self.armed = crash_state, after_write, True

    def create(self, delivery: Delivery, invoice_move: InvoiceMove | None = None) -> bool:
        return self._crashing(delivery, lambda: super(CrashingLedger, self).create(delivery, invoice_move))

    def transition(
        self, delivery: Delivery, from_states: Sequence[str], invoice_move: InvoiceMove | None = None
    ) -> bool:
        return self._crashing(
            delivery, lambda: super(CrashingLedger, self).transition(delivery, from_states, invoice_move))

    def _crashing(self, delivery: Delivery, write: Callable[[], bool]) -> bool:
        crash = self.armed and delivery.state == self.crash_state
        if crash and not self.after_write:
            self.armed = False
            raise Crash(f"before writing {delivery.state}")
        written = write()
        if crash:
            self.armed = False
            raise Crash(f"after writing {delivery.state}")
        return written


class CrashingOperator:
    """The issuer's real adapter, crashing after the operator accepted an upload or while reconciling."""

    def __init__(self, inner: Operator, *, crash_after_send: bool = False, crash_in_find: bool = False):
        self.inner, self.crash_after_send, self.crash_in_find = inner, crash_after_send, crash_in_find
        self.sends = 0

    def send_einvoice(self, ubl: bytes, idempotency_id: str, receiver: Receiver) -> OperatorDocument:
        self.sends += 1
        document = self.inner.send_einvoice(ubl, idempotency_id, receiver)
        if self.crash_after_send:
            self.crash_after_send = False
            raise Crash("after the operator accepted")
        return document

    def find(self, idempotency_id: str) -> OperatorDocument | None:
        if self.crash_in_find:
            self.crash_in_find = False
            raise Crash("during reconciliation")
        return self.inner.find(idempotency_id)

    def __getattr__(self, name: str) -> Any:  # lookup, print, status: the real adapter's
        return getattr(self.inner, name)


def _run(
    stack: Stack, ledger: DynamoDeliveryLedger | None = None, operator: Any = None,
    now: Callable[[], datetime] | None = None,
) -> Delivery | None:
    services = stack.services(
        ledger=ledger or stack.ledger, operator_for=(lambda _issuer: operator) if operator else stack.operator_for
    )
    return dispatch_invoice("inv1", 1, services, **({"now": now} if now else {}))


def _redelivered(stack: Stack, operator: Any = None) -> Delivery | None:
    """The crashed run's message, back from the queue after its visibility timeout: past the lease."""
    return _run(stack, operator=operator, now=after_the_lease)


def _tally(stack: Stack, provider: str) -> Counter[str]:
    """duplicated / lost / falsely failed for the one invoice, by what the operator holds."""
    held = [d for d in operator_documents(stack.operator_url) if d["number"] == "1001"]
    live = [d for d in held if d["status"] != "FAILED"]
    status = stack.invoices.get("inv1").status
    counts = Counter(
        scenarios=1,
        duplicated=max(0, len(live) - 1),
        lost=int(not live and status != InvoiceStatus.FAILED),
        falsely_failed=int(bool(live) and status == InvoiceStatus.FAILED),
    )
    TALLY.update({f"{provider}:{k}": v for k, v in counts.items()})
    return counts


def _assert_sent_once(stack: Stack, provider: str) -> None:
    assert _tally(stack, provider) == Counter(scenarios=1)  # 0 duplicated, 0 lost, 0 falsely failed
    documents = operator_documents(stack.operator_url)
    assert len(documents) == 1, "exactly one invoice at the operator"
    assert documents[0]["uuid"] == idempotency_id("inv1", 1) and documents[0]["provider"] == provider
    if provider == "maventa":  # the route the lookup returned: the buyer's Peppol address
        assert documents[0]["recipient"]["eia"] == f"0007:{BUYER_ORG}"
    delivery = stack.ledger.get("inv1", 1)
    assert delivery is not None and delivery.state == DeliveryState.SENT
    assert delivery.operator_invoice_id == documents[0]["id"]
    invoice = stack.invoices.get("inv1")
    assert invoice.status == InvoiceStatus.SENT and invoice.channel == "einvoice"


@pytest.fixture(scope="module", autouse=True)
def _print_tally() -> Iterator[None]:
    yield
    if TALLY:
        print("\ncrash matrix on the strict sandbox:")
        for provider in PROVIDERS:
            row = {k: TALLY[f"{provider}:{k}"] for k in ("scenarios", "duplicated", "lost", "falsely_failed")}
            print(f"  {provider:10} {row}")


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def einvoice_stack(stack: Stack, provider: str) -> Stack:
    stack.add(make_issuer(provider=provider), make_invoice())
    return stack


@pytest.mark.parametrize(
    ("crash_state", "after_write", "expected_state"),
    [
        (DeliveryState.SENDING, False, None),  # crash before the intent (and the claim) is written
        (DeliveryState.SENDING, True, DeliveryState.SENDING),  # crash after the intent, before the call
        (DeliveryState.SENT, True, DeliveryState.SENT),  # crash after recording, before the queue ack
    ],
    ids=["before-intent", "after-intent", "after-record-before-ack"],
)
def test_ledger_crash_points(einvoice_stack: Stack, provider: str, crash_state, after_write, expected_state) -> None:  # type: ignore[no-untyped-def]
    crashing = CrashingLedger("t", crash_state, after_write)
    with pytest.raises(Crash):
        _run(einvoice_stack, ledger=crashing)
    recorded = einvoice_stack.ledger.get("inv1", 1)
    assert (recorded.state if recorded is not None else None) == expected_state
    _redelivered(einvoice_stack)  # the queue redelivers
    _redelivered(einvoice_stack)  # and once more, as at-least-once delivery may
    _assert_sent_once(einvoice_stack, provider)


def _issuer_operator(stack: Stack, provider: str) -> Operator:
    return stack.operator_for(make_issuer(provider=provider))


def test_crash_after_the_operator_accepted_before_we_recorded(einvoice_stack: Stack, provider: str) -> None:
    with pytest.raises(Crash):
        _run(einvoice_stack, operator=CrashingOperator(_issuer_operator(einvoice_stack, provider), crash_after_send=True))
    assert einvoice_stack.ledger.get("inv1", 1).state == DeliveryState.SENDING  # type: ignore[union-attr]
    retry = CrashingOperator(_issuer_operator(einvoice_stack, provider))
    _redelivered(einvoice_stack, operator=retry)
    assert retry.sends == 0, "reconciled by find, not sent again"
    _assert_sent_once(einvoice_stack, provider)


def test_accepted_then_timed_out_is_reconciled(einvoice_stack: Stack, provider: str) -> None:
    """The answer to the upload is lost; the retry finds the invoice by our id (Maventa: GET by uuid;
    InExchange: byerpid) instead of repeating the upload, which the service would refuse or duplicate."""
    find_receiver(_issuer_operator(einvoice_stack, provider), "iss1", make_invoice().buyer)  # warm the caches
    set_faults(einvoice_stack.operator_url, accept_then_timeout_rate=1.0)
    with pytest.raises(OperatorOutcomeUnknown):
        _run(einvoice_stack)
    set_faults(einvoice_stack.operator_url, accept_then_timeout_rate=0.0)
    _run(einvoice_stack)
    _assert_sent_once(einvoice_stack, provider)


def test_crash_during_reconciliation(einvoice_stack: Stack, provider: str) -> None:
    operator = _issuer_operator(einvoice_stack, provider)
    with pytest.raises(Crash):
        _run(einvoice_stack, operator=CrashingOperator(operator, crash_after_send=True))
    with pytest.raises(Crash):
        _redelivered(einvoice_stack, operator=CrashingOperator(operator, crash_in_find=True))
    assert einvoice_stack.ledger.get("inv1", 1).state == DeliveryState.SENDING  # type: ignore[union-attr]
    # The reconciling run took the lease over before asking and died holding it: its message comes back
    # after the queue's visibility timeout (12 minutes), past that lease too.
    _run(einvoice_stack, now=lambda: after_the_lease() + LEASE + timedelta(seconds=1))
    _assert_sent_once(einvoice_stack, provider)


def test_not_found_on_reconciliation_sends_with_the_same_id(einvoice_stack: Stack, provider: str) -> None:
    # Warm the token and receiver-lookup caches, so the injected timeout hits the upload itself.
    find_receiver(_issuer_operator(einvoice_stack, provider), "iss1", make_invoice().buyer)
    set_faults(einvoice_stack.operator_url, timeout_rate=1.0)  # times out before the operator stores anything
    with pytest.raises((OperatorOutcomeUnknown, OperatorUnavailable)):
        _run(einvoice_stack)
    assert operator_documents(einvoice_stack.operator_url) == []
    set_faults(einvoice_stack.operator_url, timeout_rate=0.0)
    _run(einvoice_stack)
    _assert_sent_once(einvoice_stack, provider)
    assert einvoice_stack.ledger.get("inv1", 1).attempts == 2  # type: ignore[union-attr]


def test_try_later_is_retried_with_the_operators_delay_and_never_final(einvoice_stack: Stack, provider: str) -> None:
    find_receiver(_issuer_operator(einvoice_stack, provider), "iss1", make_invoice().buyer)
    set_faults(einvoice_stack.operator_url, rate_429=1.0, retry_after_seconds=7)
    with pytest.raises(OperatorUnavailable) as later:
        _run(einvoice_stack)
    assert later.value.retry_after_seconds == 7
    assert einvoice_stack.invoices.get("inv1").status != InvoiceStatus.FAILED
    set_faults(einvoice_stack.operator_url, rate_429=0.0)
    _run(einvoice_stack)
    _assert_sent_once(einvoice_stack, provider)


# --- e-mail: SES has no idempotency key, so an unknown outcome is never re-sent --------------------


class CrashAfterSes(SesMailer):
    def __init__(self, sender: str):
        super().__init__(sender)
        self.armed = True

    def send(self, mail: Mail) -> str:
        message_id = super().send(mail)
        if self.armed and mail.attachments:
            self.armed = False
            raise Crash("after SES accepted")
        return message_id


def _run_email(
    stack: Stack, mailer: SesMailer, version: int = 1, now: Callable[[], datetime] | None = None
) -> Delivery | None:
    services = stack.services(operator_for=lambda _i: None, mailer=mailer)
    return dispatch_invoice("inv1", version, services, **({"now": now} if now else {}))


def test_email_crash_after_ses_accepted_is_not_sent_twice(stack: Stack) -> None:
    stack.add(make_issuer(language="en"), make_invoice(buyer_org=None, buyer_email="kund@example.com"))
    with pytest.raises(Crash):
        _run_email(stack, CrashAfterSes("invoices@example.com"))
    _run_email(stack, stack.mailer, now=after_the_lease)
    _run_email(stack, stack.mailer, now=after_the_lease)
    mails = sent_mails()
    to_buyer = [m for m in mails if m["To"] == "kund@example.com"]
    to_issuer = [m for m in mails if m["To"] == "byra@example.com"]
    assert len(to_buyer) == 1, "the buyer got the invoice at most once"
    assert len(to_issuer) == 1 and "could not be delivered" in to_issuer[0]["Subject"]
    assert stack.ledger.get("inv1", 1).state == DeliveryState.FAILED  # type: ignore[union-attr]
    assert stack.invoices.get("inv1").status == InvoiceStatus.FAILED


def test_email_delivery_attaches_the_pdf(stack: Stack) -> None:
    stack.add(make_issuer(), make_invoice(buyer_org=None, buyer_email="kund@example.com"))
    _run_email(stack, stack.mailer)
    _run_email(stack, stack.mailer)
    [mail] = sent_mails()
    assert mail["Subject"] == "Faktura 1001 från Utställare AB"
    [attachment] = [part for part in mail.walk() if part.get_filename()]
    assert (
        attachment.get_filename() == "faktura-1001.pdf"
        and attachment.get_payload(decode=True) == b"%PDF-1.7 invoice"
    )
    assert stack.invoices.get("inv1").status == InvoiceStatus.SENT
    assert stack.ledger.get("inv1", 1).channel == "email"  # type: ignore[union-attr]


def test_email_refused_for_now_goes_back_to_queued(stack: Stack, strict_ses) -> None:  # type: ignore[no-untyped-def]
    """Throttled: certainly not sent, and tried exactly once (no SDK retry); the queue's retry sends it."""
    from invoice_bridge.dispatch import MailNotSent

    stack.add(make_issuer(), make_invoice(buyer_org=None, buyer_email="kund@example.com"))
    strict_ses.queue("throttle")
    with pytest.raises(MailNotSent):
        _run_email(stack, stack.mailer)
    assert strict_ses.sends == 1, "SendEmail goes out once: an SDK retry could send the mail twice"
    assert stack.ledger.get("inv1", 1).state == DeliveryState.QUEUED  # type: ignore[union-attr]
    _run_email(stack, stack.mailer)
    assert len(sent_mails()) == 1 and stack.ledger.get("inv1", 1).state == DeliveryState.SENT  # type: ignore[union-attr]


def test_ses_faults_drawn_at_a_rate_answer_as_scripted_ones(stack: Stack, strict_ses) -> None:  # type: ignore[no-untyped-def]
    """The soak's SES fault hook: answers drawn at rates (here every call throttled) until switched off."""
    from invoice_bridge.dispatch import MailNotSent

    stack.add(make_issuer(), make_invoice(buyer_org=None, buyer_email="kund@example.com"))
    strict_ses.set_rates({"throttle": 1.0}, seed=1)
    for _ in range(2):
        with pytest.raises(MailNotSent):
            _run_email(stack, stack.mailer)
    assert strict_ses.injected == {"throttle": 2} and sent_mails() == []
    strict_ses.set_rates({})
    _run_email(stack, stack.mailer)
    assert len(_buyer_mails()) == 1 and stack.ledger.get("inv1", 1).state == DeliveryState.SENT  # type: ignore[union-attr]


def test_ubl_sent_is_the_stored_document(einvoice_stack: Stack) -> None:
    import base64

    _run(einvoice_stack)
    assert base64.b64decode(operator_documents(einvoice_stack.operator_url)[0]["file"]) == ubl_for(make_invoice())


# --- e-mail under SES as strict as the real one (issue 12 point 5) ------------------------------------


def _buyer_mails(address: str = "kund@example.com") -> list:  # type: ignore[type-arg]
    return [m for m in sent_mails() if m["To"] == address]


def _notices() -> list:  # type: ignore[type-arg]
    return [m for m in sent_mails() if m["To"] == "byra@example.com"]


@pytest.mark.parametrize("answer", ["accept_then_fail", "accept_then_hang", "server_error"])
def test_email_without_a_definite_answer_is_never_sent_again(stack: Stack, strict_ses, answer: str) -> None:  # type: ignore[no-untyped-def]
    """SES sent it (or may have) but the answer was an error or never came: at most once, so the invoice
    fails with `outcome_unknown` and a notice, and neither an SDK retry nor a redelivery sends it again."""
    stack.add(make_issuer(language="en"), make_invoice(buyer_org=None, buyer_email="kund@example.com"))
    strict_ses.queue(answer)
    delivery = _run_email(stack, stack.mailer)
    _run_email(stack, stack.mailer)  # the queue redelivers
    assert delivery is not None and delivery.state == DeliveryState.FAILED
    assert len(_buyer_mails()) == (0 if answer == "server_error" else 1), "never a second copy"
    assert strict_ses.sends == 2, "one SendEmail for the invoice, one for the notice; no retries"
    [notice] = _notices()
    assert "could not be delivered" in notice["Subject"] and "Ask the customer" in notice.get_content()
    assert stack.invoices.get("inv1").status == InvoiceStatus.FAILED


def test_email_refused_for_the_address_is_final(stack: Stack, strict_ses) -> None:  # type: ignore[no-untyped-def]
    """MessageRejected is a refusal of this mail: failed with a notice at once, never retried (a retry
    would only end in the dead-letter queue)."""
    stack.add(make_issuer(language="en"), make_invoice(buyer_org=None, buyer_email="kund@example.com"))
    strict_ses.queue("reject")
    delivery = _run_email(stack, stack.mailer)
    assert delivery is not None and delivery.state == DeliveryState.FAILED
    assert _run_email(stack, stack.mailer) == delivery  # a redelivery changes nothing, sends nothing
    assert _buyer_mails() == [] and strict_ses.sends == 2
    [notice] = _notices()
    assert "refused the customer's e-mail address" in notice.get_content()
    invoice = stack.invoices.get("inv1")
    assert invoice.status == InvoiceStatus.FAILED and "MessageRejected" in (invoice.status_reason or "")


@pytest.mark.parametrize("address", ["kund@example", "kund@example.com, annan@example.com", "Kund <kund@example.com>"])
def test_a_malformed_buyer_address_never_reaches_ses(stack: Stack, strict_ses, address: str) -> None:  # type: ignore[no-untyped-def]
    stack.add(make_issuer(language="en"), make_invoice(buyer_org=None, buyer_email=address))
    assert _run_email(stack, stack.mailer) is None  # no channel: no delivery record at all
    assert strict_ses.sends == 1, "only the notice went to SES"
    [notice] = _notices()
    assert "e-mail address is not a valid address" in notice.get_content()
    assert stack.invoices.get("inv1").status == InvoiceStatus.FAILED


def test_line_breaks_in_invoice_data_never_reach_a_header(stack: Stack, strict_ses) -> None:  # type: ignore[no-untyped-def]
    invoice = make_invoice(buyer_org=None, buyer_email="kund@example.com", number="1001\r\nBcc: evil@example.com")
    invoice.buyer.name = "Köpare AB\nReply-To: evil@example.com"
    stack.add(make_issuer(language="en"), invoice)
    strict_ses.queue("reject")  # the invoice mail is refused: the issuer's notice names the buyer too
    _run_email(stack, stack.mailer)
    _run_email(stack, stack.mailer)
    stack.invoices.put(stack.invoices.get("inv1").model_copy(update={"version": 2, "status": InvoiceStatus.RENDERED}))
    stack.documents.put("iss1/invoices/inv1/v2/invoice.pdf", b"%PDF-1.7 v2", "application/pdf")
    _run_email(stack, stack.mailer, version=2)  # this time SES takes it
    mails = sent_mails()
    assert len(mails) == 2  # the notice about v1, and v2 to the buyer
    for mail in mails:
        assert mail["Bcc"] is None and mail["Reply-To"] is None
        assert "\n" not in mail["Subject"] and "\r" not in mail["Subject"]
    [to_buyer] = _buyer_mails()
    assert to_buyer["Subject"] == "Faktura 1001 Bcc: evil@example.com från Utställare AB"
    [attachment] = [part.get_filename() for part in to_buyer.walk() if part.get_filename()]
    assert attachment == "faktura-1001 Bcc: evil@example.com.pdf"
    [notice] = _notices()
    assert notice["Subject"] == "Invoice 1001 Bcc: evil@example.com to Köpare AB Reply-To: evil@example.com could not be delivered"
