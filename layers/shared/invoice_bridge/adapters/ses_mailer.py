"""SES v2 `Mailer`: raw MIME (EmailMessage) with text, optional HTML and attachments, sent at most once.

SES has no idempotency key, so SendEmail goes out on a client without SDK retries (a retry after a lost
answer would send the mail again), and the answer is read strictly:
- a definite refusal of the message itself (MessageRejected, a malformed address or request, found by
  SES or by our own check before the call): `MailRejected`, final;
- a definite refusal for now (throttling, sending paused, a setting of ours): `MailNotSent`, retry later;
- anything else (a timeout, a dropped connection, a 5xx): `MailOutcomeUnknown`, the mail may have gone.
Recipients are checked with email-validator first, and no header takes a line break from invoice data.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from typing import TYPE_CHECKING

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ParamValidationError,
)

from ..dispatch.notify import one_line
from ..identifiers import InvalidIdentifier, normalize_email_address
from ..ports import Mail, MailNotSent, MailOutcomeUnknown, MailRejected
from .aws import single_attempt_client

if TYPE_CHECKING:
    from mypy_boto3_sesv2.type_defs import SendEmailRequestTypeDef

# Refusals of this very message: sending it again would be refused again.
_REJECTED = frozenset({"MessageRejected", "BadRequestException", "InvalidParameterValue"})


class SesMailer:
    def __init__(self, sender: str, configuration_set: str | None = None, read_timeout: float = 30.0):
        self._sender = sender
        self._configuration_set = configuration_set
        self._read_timeout = read_timeout

    def send(self, mail: Mail) -> str:
        recipients = _checked_recipients(mail.to)
        request: SendEmailRequestTypeDef = {
            "FromEmailAddress": self._sender,
            "Destination": {"ToAddresses": recipients},
            # Always raw MIME: one path for text, HTML and attachments, sent exactly as built.
            "Content": {"Raw": {"Data": self.mime(mail, recipients).as_bytes()}},
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        ses = single_attempt_client("sesv2", self._read_timeout)
        try:
            sent = ses.send_email(**request)
            return str(sent["MessageId"])
        except ClientError as exc:
            raise _refusal(exc) from None
        except ParamValidationError as exc:  # refused by the SDK before anything was sent
            raise MailRejected(f"the e-mail could not be sent as built ({exc})") from None
        except (EndpointConnectionError, ConnectTimeoutError) as exc:  # never reached SES: nothing sent
            raise MailNotSent(f"the e-mail service could not be reached ({type(exc).__name__})") from None
        except Exception as exc:  # noqa: BLE001 - a timeout, a dropped connection: SES may have sent it
            raise MailOutcomeUnknown(f"no answer from the e-mail service ({type(exc).__name__})") from None

    def mime(self, mail: Mail, recipients: list[str] | None = None) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = ", ".join(recipients if recipients is not None else _checked_recipients(mail.to))
        message["Subject"] = one_line(mail.subject)
        message.set_content(mail.text)
        if mail.html:
            message.add_alternative(mail.html, subtype="html")
        for attachment in mail.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            message.add_attachment(
                attachment.body,
                maintype=maintype,
                subtype=subtype or "octet-stream",
                filename=one_line(attachment.filename),
            )
        return message


def _checked_recipients(addresses: Sequence[str]) -> list[str]:
    recipients = []
    for address in addresses:
        try:
            recipients.append(normalize_email_address(address))
        except InvalidIdentifier as exc:
            raise MailRejected(str(exc)) from None
    if not recipients:
        raise MailRejected("the e-mail has no recipient")
    return recipients


def _refusal(exc: ClientError) -> Exception:
    """What an error answer from SES means for the mail (module docstring)."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    reason = f"{code}: {error.get('Message', '')}".rstrip(": ")
    if status >= 500:
        return MailOutcomeUnknown(reason)
    if code in _REJECTED:
        return MailRejected(reason)
    retry_after = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("retry-after")
    return MailNotSent(reason, float(retry_after) if retry_after and retry_after.isdigit() else None)
