"""Failure notification: an e-mail to the issuer in their language, and the TransferFailed metric."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_lambda_powertools.metrics import MetricUnit
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ..models.invoice import Invoice
from ..models.issuer import Issuer
from ..observability import logger, metrics
from ..ports import Attachment, Mail, Mailer

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Failure:
    """What failed and why. `code`: no_channel, rejected, delivery_failed, email_bounced, email_complaint,
    outcome_unknown."""

    code: str
    reason: str  # English detail (also shown as-is when no translated causes exist)
    channel: str | None = None
    causes: tuple[str, ...] = ()  # translated by the templates (see policy.CAUSES_EN)


def render(template: str, language: str, **context: object) -> tuple[str, str]:
    """Render `{template}_{language}.txt.j2`; its first line is `Subject: …`. Returns (subject, body)."""
    text = TEMPLATES.get_template(f"{template}_{language}.txt.j2").render(**context)
    first, _, body = text.partition("\n")
    return first.removeprefix("Subject:").strip(), body.lstrip("\n")


class FailureNotifier:
    def __init__(self, mailer: Mailer):
        self._mailer = mailer

    def notify(self, issuer: Issuer, invoice: Invoice, failure: Failure) -> str:
        subject, text = render("failure", issuer.language, issuer=issuer, invoice=invoice, failure=failure)
        message_id = self._mailer.send(Mail(to=[str(issuer.notification_email)], subject=subject, text=text))
        metrics.add_metric(name="TransferFailed", unit=MetricUnit.Count, value=1)
        logger.info("failure notified", extra={"invoice_id": invoice.id, "code": failure.code})
        return message_id


def buyer_mail(issuer: Issuer, invoice: Invoice, pdf: bytes) -> Mail:
    """The e-mail that carries the invoice PDF to the buyer, in the invoice's language."""
    if invoice.buyer.email is None:
        raise ValueError("the buyer has no e-mail address")
    subject, text = render("invoice", invoice.language, issuer=issuer, invoice=invoice)
    kind = "faktura" if invoice.language == "sv" else "invoice"
    attachment = Attachment(f"{kind}-{invoice.number}.pdf", "application/pdf", pdf)
    return Mail(to=[invoice.buyer.email], subject=subject, text=text, attachments=(attachment,))
