"""A one-time alert survives a throttled send: only whoever made the transition tells, so a refusal that
certainly sent nothing is tried again, and one that may have sent something is not."""

from __future__ import annotations

import pytest
from invoice_bridge.alerts import ALERT_SEND_PAUSES_SECONDS, send_alert
from invoice_bridge.ports import Mail, MailNotSent, MailOutcomeUnknown


class ScriptedMailer:
    def __init__(self, *answers: Exception | None) -> None:
        self.answers = list(answers)
        self.attempts = 0
        self.sent: list[Mail] = []

    def send(self, mail: Mail) -> str:
        self.attempts += 1
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer
        self.sent.append(mail)
        return f"message-{self.attempts}"


MAIL = Mail(to=["ekonomi@example.se"], subject="Integrationen behöver förnyas", text="…")


def test_a_throttled_alert_is_sent_after_a_pause() -> None:
    pauses: list[float] = []
    mailer = ScriptedMailer(MailNotSent("Throttling"), MailNotSent("Throttling", retry_after_seconds=5))
    send_alert(mailer, MAIL, sleep=pauses.append)
    assert mailer.sent == [MAIL] and mailer.attempts == 3
    assert pauses == [ALERT_SEND_PAUSES_SECONDS[0], 5]


def test_an_alert_refused_every_time_raises_for_the_message_to_be_retried() -> None:
    mailer = ScriptedMailer(*[MailNotSent("Throttling")] * 5)
    with pytest.raises(MailNotSent):
        send_alert(mailer, MAIL, sleep=lambda _s: None)
    assert mailer.attempts == len(ALERT_SEND_PAUSES_SECONDS) + 1 and mailer.sent == []


def test_an_alert_that_may_have_gone_out_is_not_sent_again() -> None:
    mailer = ScriptedMailer(MailOutcomeUnknown("no answer"))
    with pytest.raises(MailOutcomeUnknown):
        send_alert(mailer, MAIL, sleep=lambda _s: None)
    assert mailer.attempts == 1
