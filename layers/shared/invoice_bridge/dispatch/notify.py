"""Failure notification: an e-mail to the issuer in their language, and the TransferFailed metric."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from ..models.invoice import Invoice
from ..models.issuer import Issuer
from ..observability import logger, metrics
from ..ports import Attachment, Mail, Mailer

if TYPE_CHECKING:
    from jinja2 import Environment

# Line breaks and other control characters (from invoice data: a name, a number) as one space.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(value: object) -> str:
    """`value` as text safe on one line (a subject, a file name): a newline can never end a header."""
    return _CONTROL.sub(" ", str(value)).strip()


@cache
def templates() -> Environment:
    """The notices' templates, built at the first notice: a failure is rare, so the functions that may
    send one (render, dispatch, tracking, SES events, the sweeper) do not import jinja2 at their cold start."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    environment = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["one_line"] = one_line
    return environment


@dataclass(frozen=True)
class Failure:
    """What failed and why. `code`: no_channel, rejected, delivery_failed, email_bounced, email_complaint,
    email_rejected, outcome_unknown, documents_missing, render_failed, stuck, source_unreadable."""

    code: str
    reason: str  # English detail (also shown as-is when no translated causes exist)
    channel: str | None = None
    causes: tuple[str, ...] = ()  # translated by the templates (see policy.CAUSES_EN)


def render(template: str, language: str, **context: object) -> tuple[str, str]:
    """Render `{template}_{language}.txt.j2`; its first line is `Subject: …`. Returns (subject, body)."""
    text = templates().get_template(f"{template}_{language}.txt.j2").render(**context)
    first, _, body = text.partition("\n")
    return first.removeprefix("Subject:").strip(), body.lstrip("\n")


class FailureNotifier:
    def __init__(self, mailer: Mailer):
        self._mailer = mailer

    def notify(self, issuer: Issuer, invoice: Invoice, failure: Failure, *, transfer: bool = True) -> str:
        """Mail the issuer; a failed transfer (not a failure before it, `transfer=False`, which its
        caller counts itself) counts in TransferFailed."""
        subject, text = render("failure", issuer.language, issuer=issuer, invoice=invoice, failure=failure)
        message_id = self._mailer.send(Mail(to=[str(issuer.notification_email)], subject=subject, text=text))
        if transfer:
            metrics.add_metric(name="TransferFailed", unit=MetricUnit.Count, value=1)
        logger.info("failure notified", extra={"invoice_id": invoice.id, "code": failure.code})
        return message_id


def buyer_mail(issuer: Issuer, invoice: Invoice, pdf: bytes, to: str | None = None) -> Mail:
    """The e-mail that carries the invoice PDF to the buyer (`to`: the delivery's recipient, by default
    the buyer's address), in the invoice's language."""
    address = to or invoice.buyer.email
    if not address:
        raise ValueError("the buyer has no e-mail address")
    subject, text = render("invoice", invoice.language, issuer=issuer, invoice=invoice)
    kind = "faktura" if invoice.language == "sv" else "invoice"
    attachment = Attachment(one_line(f"{kind}-{invoice.number}.pdf"), "application/pdf", pdf)
    return Mail(to=[address], subject=subject, text=text, attachments=(attachment,))
