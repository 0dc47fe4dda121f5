"""The template's SES_CONFIGURATION_SET reaches SES: the wired mailer names the configuration set on
every send, so SES reports the mail's bounces, complaints and deliveries to SesEventsTopic."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from infra_support import TEMPLATE
from invoice_bridge import wiring
from invoice_bridge.adapters.aws import client, single_attempt_client
from invoice_bridge.ports import Mail
from moto import mock_aws
from samtranslator.yaml_helper import yaml_parse

SENDER = "invoices@example.com"


@pytest.fixture
def mail_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    variables = yaml_parse(TEMPLATE.read_text())["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["SES_CONFIGURATION_SET"] == {"Ref": "MailConfigurationSet"}
    monkeypatch.setenv("SES_CONFIGURATION_SET", "invoice-bridge-mail")
    monkeypatch.setenv("SENDER_EMAIL", SENDER)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    monkeypatch.setenv("AWS_REGION", "eu-north-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        wiring.reset()
        yield
    wiring.reset()


@pytest.mark.usefixtures("mail_environment")
def test_wired_mailer_sends_through_the_configuration_set() -> None:
    sesv2 = client("sesv2")
    sesv2.create_email_identity(EmailIdentity="example.com")
    sesv2.create_configuration_set(ConfigurationSetName="invoice-bridge-mail")
    sent: list[dict[str, Any]] = []
    # Observe the request SES receives (moto accepts the set without recording it), on the client the
    # mailer sends with: one without SDK retries (its default read timeout).
    single_attempt_client("sesv2", 30.0).meta.events.register(
        "provide-client-params.sesv2.SendEmail", lambda params, **_: sent.append(params)
    )

    message_id = wiring.mailer().send(Mail(to=["buyer@example.org"], subject="Faktura 1", text="Hej"))

    assert message_id
    (request,) = sent
    assert request["ConfigurationSetName"] == "invoice-bridge-mail"
    assert request["FromEmailAddress"] == SENDER
