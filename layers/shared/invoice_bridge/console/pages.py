"""Rendering a console page: the request's context (who, which language, what to say) and the jinja2
templates (autoescaped; no inline script or style, so the strict CSP holds)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response

from ..models.common import LANGUAGES, Language
from . import formatting
from .sessions import ConsoleSession, Flash, FlashKind
from .texts import texts
from .web import LANGUAGE_COOKIE, WebRequest, html, origin_of, redirect

if TYPE_CHECKING:
    from jinja2 import Environment

PACKAGE = Path(__file__).parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


@cache
def static_files() -> dict[str, tuple[str, str]]:
    """name → (content, short hash): the hash goes into the URL, so a new version is never a stale cache."""
    found = {}
    for path in STATIC.iterdir():
        if path.suffix in STATIC_TYPES:
            content = path.read_text(encoding="utf-8")
            found[path.name] = (content, hashlib.sha256(content.encode()).hexdigest()[:12])
    return found


@cache
def environment() -> Environment:
    """Built at the first page, not at the cold start."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        amount=formatting.amount, when=formatting.when, day=formatting.day, org=formatting.org_number
    )
    return env


def language_of(request: WebRequest) -> Language:
    chosen = LANGUAGES.get(request.cookies.get(LANGUAGE_COOKIE) or "")
    if chosen is not None:
        return chosen
    accept = request.headers.get("accept-language", "").lower()
    return "en" if accept.startswith("en") else "sv"


@dataclass
class Ctx:
    """One request's view of the console: the request, the session (None on the sign-in pages), the
    language and its texts, and the messages waiting to be shown."""

    request: WebRequest
    session: ConsoleSession | None
    lang: Language
    flashes: list[Flash] = field(default_factory=list)
    pending: list[Flash] = field(default_factory=list)  # for the next page (after a redirect)

    @property
    def t(self) -> dict[str, str]:
        return texts(self.lang)

    @property
    def is_admin(self) -> bool:
        return self.session is not None and self.session.role == "admin"

    def url(self, path: str, **query: str | None) -> str:
        return self.request.url(path, **query)

    def static(self, name: str) -> str:
        return self.request.url(f"/console/static/{name}", v=static_files()[name][1])

    def render(self, template: str, status: int = 200, *, embeds: Iterable[str | None] = (), **values: Any) -> Response[str]:
        """The page; `embeds` are the document links it shows (their origins join img-src/frame-src)."""
        body = environment().get_template(template).render(
            c=self, t=self.t, lang=self.lang, session=self.session, flashes=self.flashes, **values
        )
        return html(body, status, origins=[o for o in map(origin_of, embeds) if o])

    def say(self, kind: FlashKind, key: str, link: str | None = None, **values: Any) -> None:
        """A message for the page the user is sent to next."""
        self.pending.append(Flash(kind=kind, text=self.t[key].format(**values), link=link))

    def go(self, path: str, **query: str | None) -> Response[str]:
        return redirect(self.url(path, **query))

    def back(self, default: str) -> Response[str]:
        """Back to the page the form was on (its `next` field, a console path only), else `default`."""
        from .web import safe_next

        return redirect(safe_next(self.request.form().get("next"), self.request.prefix, self.url(default)))
