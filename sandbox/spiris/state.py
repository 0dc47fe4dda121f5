"""In-memory state of the Spiris sandbox. Every read-modify-write happens under `SandboxState.lock`."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .config import SandboxClient, SpirisSandboxConfig


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_utc(moment: datetime) -> str:
    """Spiris-style UTC timestamp, microseconds kept so ordering by ModifiedUtc is fine-grained."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Company:
    id: str
    name: str
    corporate_identity_number: str
    api_module: bool = True
    variant: str = "standard"  # "bookkeeping" has no customer invoices (4009)
    error_mode: int | None = None  # 4003, 4004, 4009 or 4012 for every API call
    settings: dict[str, Any] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    drafts: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class User:
    email: str
    password: str
    companies: list[str]
    default_company: str | None = None
    full_access: bool = True
    sub: str = field(default_factory=new_id)


@dataclass
class AuthorizeSession:
    """One trip through the authorize pages, carried between steps as a hidden `session` field."""

    params: dict[str, str]
    created: float
    user_email: str | None = None
    company_id: str | None = None
    finished: bool = False


@dataclass
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    scopes: list[str]
    user_email: str
    company_id: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires: float
    auth_time: int
    used: bool = False
    families: list[str] = field(default_factory=list)


@dataclass
class TokenFamily:
    """All tokens descending from one authorization code; reuse of a rotated-out token kills it whole."""

    id: str
    client_id: str
    user_email: str
    company_id: str
    scopes: list[str]
    auth_time: int
    revoked: bool = False


@dataclass
class RefreshToken:
    family_id: str
    consumed: bool = False


class SandboxState:
    def __init__(self, config: SpirisSandboxConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.random = random.Random(config.random_seed)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.clients: dict[str, SandboxClient] = {c.client_id: c for c in self.config.clients}
            self.companies: dict[str, Company] = {}
            self.users: dict[str, User] = {}
            self.sessions: dict[str, AuthorizeSession] = {}
            self.codes: dict[str, AuthorizationCode] = {}
            self.families: dict[str, TokenFamily] = {}
            self.refresh_tokens: dict[str, RefreshToken] = {}
            # Access tokens (by jti) issued, and those invalidated server-side before they expire (401).
            self.issued_access_tokens: set[str] = set()
            self.rejected_access_tokens: set[str] = set()
            self.temp_files: dict[str, tuple[bytes, float]] = {}
            self.requests: Counter[str] = Counter()
            self.request_times: dict[str, deque[float]] = {}
            self.max_per_minute: dict[str, int] = {}
            self.admitted: dict[tuple[str, str], deque[float]] = {}
            self.admitted_per_minute: dict[tuple[str, str, int], int] = {}
            self.refresh_token_reuse = 0
            self.faults: dict[str, float] = {"rate_429": 0.0, "rate_5xx": 0.0, "latency_ms": 0.0}
            self._last_modified: datetime | None = None

    # --- time that never goes backwards, so ModifiedUtc strictly increases --------------------------

    def next_modified(self) -> datetime:
        with self.lock:
            moment = utc_now()
            if self._last_modified is not None and moment <= self._last_modified:
                moment = self._last_modified + timedelta(microseconds=1)
            self._last_modified = moment
            return moment

    def user_by_sub(self, sub: str) -> User | None:
        return next((u for u in self.users.values() if u.sub == sub), None)

    # --- statistics ---------------------------------------------------------------------------------

    def count_request(self, method: str, path_template: str) -> None:
        now = time.monotonic()
        with self.lock:
            self.requests[f"{method} {path_template}"] += 1
            window = self.request_times.setdefault(path_template, deque())
            window.append(now)
            while window and window[0] <= now - 60:
                window.popleft()
            self.max_per_minute[path_template] = max(self.max_per_minute.get(path_template, 0), len(window))

    def admit(self, client_id: str, path_template: str) -> int | None:
        """Count one API call against the per-(client, endpoint) minute; None = admitted, else seconds to wait."""
        limit = self.config.rate_limit_per_minute
        if self.config.rate_limit_window == "fixed":
            return self._admit_in_calendar_minute(client_id, path_template, limit)
        now = time.monotonic()
        with self.lock:
            window = self.admitted.setdefault((client_id, path_template), deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= limit:
                return max(1, int(window[0] + 60 - now + 0.999))
            window.append(now)
            return None

    def _admit_in_calendar_minute(self, client_id: str, path_template: str, limit: int) -> int | None:
        now = time.time()
        minute = int(now // 60)
        with self.lock:
            key = (client_id, path_template, minute)
            if self.admitted_per_minute.get(key, 0) >= limit:
                return max(1, int((minute + 1) * 60 - now + 0.999))
            self.admitted_per_minute[key] = self.admitted_per_minute.get(key, 0) + 1
            return None
