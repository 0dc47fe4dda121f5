"""Invoice texts in Swedish and English, from the jinja2 templates in `templates/` (one per language)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...models.common import Language
from ...models.invoice import Invoice

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).with_name("templates")


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2  # at the first text, not at the cold start

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False, undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )


@lru_cache(maxsize=4)
def _raw(language: Language) -> dict[str, str]:
    source = (TEMPLATES / f"{language}.txt.j2").read_text(encoding="utf-8")
    entries: dict[str, str] = {}
    for line in source.splitlines():
        if not line.strip() or line.lstrip().startswith("{#"):
            continue
        key, _, value = line.partition(":")
        entries[key.strip()] = value.strip()
    return entries


@lru_cache(maxsize=4)
def texts_for(language: Language) -> dict[str, str]:
    """Plain labels (entries without placeholders are returned as they are)."""
    return dict(_raw(language))


@lru_cache(maxsize=256)
def _template(language: Language, key: str) -> jinja2.Template:
    return _environment().from_string(_raw(language)[key])


def text(language: Language, key: str, **context: Any) -> str:
    """One text rendered with its context, e.g. text("sv", "page", page=1, pages=3) → "Sida 1 av 3"."""
    return _template(language, key).render(**context)


def payment_terms_text(invoice: Invoice) -> str | None:
    if invoice.due_date is None:
        return None
    days = (invoice.due_date - invoice.issue_date).days
    if days <= 0:
        return text(invoice.language, "payment_terms_now")
    return text(invoice.language, "payment_terms_days", days=days)
