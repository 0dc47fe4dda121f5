"""HTML pages and e-mails of the consent flow (jinja2, autoescaped, inline CSS, no external assets)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .texts import texts

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES = Path(__file__).parent / "templates"


@cache
def _environment() -> Environment:
    """Built at the first page or mail rather than at the cold start (a redirect renders none)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class Page:
    status: int
    html: str
    kind: str  # which page, for logs and tests ("explanation", "done", "wrong_company", ...)


def _render(template: str, language: str, **values: Any) -> str:
    return _environment().get_template(template).render(lang=language, t=texts(language), **values)


def explanation_page(language: str, office_name: str, issuer_name: str, org_number: str) -> Page:
    """The form posts back to the page's own URL (no action attribute), so it works under any API stage
    prefix or custom domain."""
    html = _render(
        "explanation.html",
        language,
        title=texts(language)["explain_title"],
        office_name=office_name,
        issuer_name=issuer_name,
        org_number=org_number,
    )
    return Page(200, html, "explanation")


# kind -> (status, badge key, tone, title key, body key, steps key)
_RESULTS: dict[str, tuple[int, str, str, str, str, str | None]] = {
    "done": (200, "badge_done", "ok", "done_title", "done_body", None),
    "denied": (200, "badge_problem", "warn", "denied_title", "denied_body", None),
    "wrong_company": (
        200,
        "badge_problem",
        "err",
        "wrong_company_title",
        "wrong_company_body",
        "wrong_company_steps",
    ),
    "module_missing": (
        200,
        "badge_problem",
        "err",
        "module_missing_title",
        "module_missing_body",
        "module_missing_steps",
    ),
    "no_access": (200, "badge_problem", "err", "no_access_title", "no_access_body", "no_access_steps"),
    "spiris_refused": (200, "badge_problem", "err", "spiris_refused_title", "spiris_refused_body", None),
    "unknown_link": (404, "badge_link", "err", "unknown_link_title", "unknown_link_body", None),
    "used_link": (410, "badge_link", "warn", "used_link_title", "used_link_body", None),
    "expired_link": (410, "badge_link", "warn", "expired_link_title", "expired_link_body", None),
}


def result_page(kind: str, language: str, office_name: str, **values: str) -> Page:
    """A result page; `values` fill the placeholders of its texts (company, org_number, expected, ...)."""
    status, badge, tone, title_key, body_key, steps_key = _RESULTS[kind]
    t = texts(language)
    fill = {"office": office_name, **values}
    html = _render(
        "result.html",
        language,
        title=t[title_key],
        badge=t[badge],
        tone=tone,
        paragraphs=[p.format(**fill) for p in t[body_key]],
        steps=[s.format(**fill) for s in t[steps_key]] if steps_key else [],
        office_name=office_name,
    )
    return Page(status, html, kind)


def bad_state_page(reason: str, language: str, office_name: str) -> Page:
    """The callback could not be tied to a live request (unknown, used or expired state; failed exchange)."""
    t = texts(language)
    html = _render(
        "result.html",
        language,
        title=t["bad_state_title"],
        badge=t["badge_problem"],
        tone="err",
        paragraphs=[t["bad_state_body"].get(reason, t["bad_state_body"]["unknown"])],
        steps=t["bad_state_steps"],
        office_name=office_name,
    )
    return Page(400, html, f"state_{reason}")


@dataclass(frozen=True)
class MailContent:
    subject: str
    text: str
    html: str


def invitation_mail(
    language: str, office_name: str, issuer_name: str, contact_name: str, consent_url: str, ttl_days: int
) -> MailContent:
    values = dict(
        office_name=office_name,
        issuer_name=issuer_name,
        contact_name=contact_name,
        consent_url=consent_url,
        ttl_days=ttl_days,
    )
    subject = texts(language)["mail_invite_subject"].format(office=office_name, issuer=issuer_name)
    return MailContent(
        subject=subject,
        text=_render("mail_invitation.txt", language, **values),
        html=_render("mail_invitation.html", language, **values),
    )


def notice_mail(language: str, office_name: str, subject: str, paragraphs: list[str]) -> MailContent:
    values = dict(office_name=office_name, heading=subject, paragraphs=paragraphs)
    return MailContent(
        subject=subject,
        text=_render("mail_notice.txt", language, **values),
        html=_render("mail_notice.html", language, **values),
    )
