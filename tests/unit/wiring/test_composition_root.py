"""The composition root (invoice_bridge.wiring): one override hook, and the consent capability's mailer
sending through the SES configuration set as the dispatch's does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from invoice_bridge import wiring
from invoice_bridge.adapters.aws import client, single_attempt_client
from invoice_bridge.dispatch.report import ReportSources
from invoice_bridge.ports import Mail
from invoice_bridge.settings import ConsentBundleSettings
from moto import mock_aws

SENDER = "invoices@example.com"


def test_override_answers_for_a_getter_until_the_block_ends() -> None:
    sources = ReportSources(invoices=object(), ledger=object())  # type: ignore[arg-type]
    with wiring.override(report_sources=sources):
        assert wiring.report_sources() is sources
    with mock_aws():
        assert wiring.report_sources() is not sources


def test_override_refuses_a_name_that_is_no_getter() -> None:
    with pytest.raises(KeyError, match="report_source"), wiring.override(report_source=object()):
        pass


@pytest.fixture
def mail_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    monkeypatch.setenv("SES_CONFIGURATION_SET", "invoice-bridge-mail")
    monkeypatch.setenv("SENDER_EMAIL", SENDER)
    with mock_aws():
        wiring.reset()
        sesv2 = client("sesv2")
        sesv2.create_email_identity(EmailIdentity="example.com")
        sesv2.create_configuration_set(ConfigurationSetName="invoice-bridge-mail")
        sent: list[dict[str, Any]] = []
        # Observe the request SES receives (moto accepts the set without recording it).
        single_attempt_client("sesv2", 30.0).meta.events.register(
            "provide-client-params.sesv2.SendEmail", lambda params, **_: sent.append(params)
        )
        yield sent
    wiring.reset()


def test_the_consent_mailer_sends_through_the_configuration_set(mail_environment: list[dict[str, Any]]) -> None:
    services = wiring.build_consent_services(ConsentBundleSettings(), client_secret="not-used")

    services.mailer.send(Mail(to=["contact@example.org"], subject="Koppla Spiris", text="Hej"))

    (request,) = mail_environment
    assert request["ConfigurationSetName"] == "invoice-bridge-mail"
    assert request["FromEmailAddress"] == SENDER
