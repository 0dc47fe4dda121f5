"""SES v2 `Mailer`: raw MIME (EmailMessage) with text, optional HTML and attachments."""

from __future__ import annotations

from email.message import EmailMessage

from botocore.exceptions import ClientError

from ..dispatch.errors import MailNotSent
from ..ports import Mail
from .aws import client


class SesMailer:
    """Raises MailNotSent when SES refuses; network errors propagate (the outcome is then unknown)."""

    def __init__(self, sender: str, configuration_set: str | None = None):
        self._sender = sender
        self._configuration_set = configuration_set

    def send(self, mail: Mail) -> str:
        kwargs: dict[str, object] = {
            "FromEmailAddress": self._sender,
            "Destination": {"ToAddresses": list(mail.to)},
        }
        if self._configuration_set:
            kwargs["ConfigurationSetName"] = self._configuration_set
        # Always raw MIME: one path for text, HTML and attachments, sent exactly as built.
        kwargs["Content"] = {"Raw": {"Data": self.mime(mail).as_bytes()}}
        try:
            return str(client("sesv2").send_email(**kwargs)["MessageId"])
        except ClientError as exc:  # SES answered with an error: the message was not accepted
            raise MailNotSent(exc.response["Error"]["Code"]) from None

    def mime(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = ", ".join(mail.to)
        message["Subject"] = mail.subject
        message.set_content(mail.text)
        if mail.html:
            message.add_alternative(mail.html, subtype="html")
        for attachment in mail.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            message.add_attachment(
                attachment.body,
                maintype=maintype,
                subtype=subtype or "octet-stream",
                filename=attachment.filename,
            )
        return message
