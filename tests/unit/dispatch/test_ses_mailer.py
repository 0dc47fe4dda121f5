"""SesMailer on moto: raw MIME with text, HTML and attachments exactly as built."""

from __future__ import annotations

import email
import email.policy

import boto3
import pytest
from invoice_bridge.adapters.ses_mailer import SesMailer
from invoice_bridge.dispatch import MailNotSent
from invoice_bridge.ports import Attachment, Mail
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends


@pytest.fixture
def ses():
    with mock_aws():
        boto3.client("ses").verify_email_identity(EmailAddress="invoices@example.com")
        yield ses_backends[DEFAULT_ACCOUNT_ID]["eu-north-1"]


def _parsed(message):  # type: ignore[no-untyped-def]
    return email.message_from_string(message.raw_data, policy=email.policy.default)


def test_text_html_and_attachments_survive(ses) -> None:  # type: ignore[no-untyped-def]
    mailer = SesMailer("invoices@example.com")
    mailer.send(Mail(to=["a@example.com"], subject="Hej", text="Text", html="<p>Html</p>"))
    mailer.send(
        Mail(
            to=["b@example.com"],
            subject="Faktura 1 från Åkeri AB",
            text="Bifogad",
            attachments=[Attachment("faktura-1.pdf", "application/pdf", b"%PDF-1.7")],
        )
    )
    simple, raw = (_parsed(m) for m in ses.sent_messages)
    assert simple["Subject"] == "Hej" and simple["To"] == "a@example.com"
    assert simple.get_body(("plain",)).get_content().strip() == "Text"
    assert simple.get_body(("html",)).get_content().strip() == "<p>Html</p>"
    parsed = raw
    assert parsed["Subject"] == "Faktura 1 från Åkeri AB" and parsed["From"] == "invoices@example.com"
    [pdf] = [part for part in parsed.walk() if part.get_filename()]
    assert pdf.get_content_type() == "application/pdf" and pdf.get_content() == b"%PDF-1.7"


def test_refusal_is_mail_not_sent(ses) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MailNotSent):
        SesMailer("unverified@example.com").send(Mail(to=["a@example.com"], subject="s", text="t"))
