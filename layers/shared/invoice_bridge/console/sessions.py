"""Console sessions, kept server-side: the browser holds only a random id in a cookie; the store keeps its
SHA-256, so a copy of the table cannot be replayed as a cookie.

A session ends `lifetime` after sign-in or `idle` after its last use, and the user's standing in the
user pool (enabled, groups) is read again every `recheck`: a user disabled or moved out of the office's
groups loses the console within minutes, not at the end of the working day.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from pydantic import Field

from ..models.common import Model

ADMINS_GROUP = "office-admins"
STAFF_GROUP = "office-staff"
Role = Literal["admin", "staff"]
# Written at most this often for "last used" alone, so reading pages does not write on every request.
_SEEN_RESOLUTION = timedelta(minutes=1)


def role_of(groups: list[str] | tuple[str, ...]) -> Role | None:
    """admin for office-admins, staff for office-staff, None (no console) for anyone else."""
    if ADMINS_GROUP in groups:
        return "admin"
    if STAFF_GROUP in groups:
        return "staff"
    return None


FlashKind = Literal["ok", "error", "link"]


class Flash(Model):
    """A message for the next page the user sees (the answer to a form, after its redirect)."""

    kind: FlashKind
    text: str
    link: str | None = None  # a consent link to copy, for kind "link"


class ConsoleSession(Model):
    key: str  # SHA-256 (hex) of the cookie value
    username: str
    sub: str
    email: str | None = None
    groups: list[str]
    csrf_token: str
    created_at: datetime
    seen_at: datetime
    checked_at: datetime
    flashes: list[Flash] = Field(default_factory=list)

    @property
    def role(self) -> Role | None:
        return role_of(self.groups)


@dataclass(frozen=True)
class UserStanding:
    enabled: bool
    groups: tuple[str, ...]


class SessionStore(Protocol):
    def put(self, session: ConsoleSession, expires_at: datetime) -> None: ...
    def get(self, key: str) -> ConsoleSession | None: ...
    def delete(self, key: str) -> None: ...


class UserDirectory(Protocol):
    def standing(self, username: str) -> UserStanding | None: ...  # None: no such user any more


@dataclass(frozen=True)
class SessionPolicy:
    lifetime: timedelta
    idle: timedelta
    recheck: timedelta

    def expires_at(self, session: ConsoleSession) -> datetime:
        return min(session.created_at + self.lifetime, session.seen_at + self.idle)


def session_key(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode()).hexdigest()


@dataclass(frozen=True)
class SignedInUser:
    username: str
    sub: str
    email: str | None
    groups: tuple[str, ...]


def open_session(
    user: SignedInUser, store: SessionStore, policy: SessionPolicy, now: datetime
) -> tuple[str, ConsoleSession]:
    """A new session for a user whose tokens were verified; the cookie value and the session."""
    cookie_value = secrets.token_urlsafe(32)
    session = ConsoleSession(
        key=session_key(cookie_value),
        username=user.username,
        sub=user.sub,
        email=user.email,
        groups=list(user.groups),
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        seen_at=now,
        checked_at=now,
    )
    store.put(session, policy.expires_at(session))
    return cookie_value, session


def resume_session(
    cookie_value: str | None,
    store: SessionStore,
    directory: UserDirectory,
    policy: SessionPolicy,
    now: datetime,
) -> ConsoleSession | None:
    """The live session the cookie names, or None (no cookie, unknown, expired, or the user lost access)."""
    if not cookie_value:
        return None
    session = store.get(session_key(cookie_value))
    if session is None:
        return None
    if now >= policy.expires_at(session):
        store.delete(session.key)
        return None
    changed = False
    if now - session.checked_at >= policy.recheck:
        standing = directory.standing(session.username)
        if standing is None or not standing.enabled or role_of(standing.groups) is None:
            store.delete(session.key)
            return None
        session.groups = list(standing.groups)
        session.checked_at = now
        changed = True
    if now - session.seen_at >= _SEEN_RESOLUTION:
        session.seen_at = now
        changed = True
    if changed:
        store.put(session, policy.expires_at(session))
    return session


def end_session(cookie_value: str | None, store: SessionStore) -> None:
    if cookie_value:
        store.delete(session_key(cookie_value))


def add_flash(session: ConsoleSession, flash: Flash, store: SessionStore, policy: SessionPolicy) -> None:
    session.flashes.append(flash)
    store.put(session, policy.expires_at(session))


def take_flashes(session: ConsoleSession, store: SessionStore, policy: SessionPolicy) -> list[Flash]:
    """The waiting messages, once: they are removed as they are shown."""
    if not session.flashes:
        return []
    flashes, session.flashes = session.flashes, []
    store.put(session, policy.expires_at(session))
    return flashes
