"""Settings of the Spiris sandbox: registered OAuth clients, lifetimes, limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DEFAULT_CLIENT_ID = "invoice-bridge-local"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"


@dataclass
class SandboxClient:
    """An IdentityServer client. `redirect_uris=None` accepts any http(s) redirect URI (local dev)."""

    client_id: str
    client_secret: str
    redirect_uris: list[str] | None = None
    name: str = "invoice-bridge"


@dataclass
class SpirisSandboxConfig:
    clients: list[SandboxClient] = field(
        default_factory=lambda: [SandboxClient(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)]
    )
    # None: derived from the request's base URL (the identity server and the API share one host here).
    issuer: str | None = None
    access_token_lifetime_seconds: int = 3600
    code_lifetime_seconds: int = 300
    refresh_token_mode: Literal["rotating", "reusable"] = "rotating"
    rate_limit_per_minute: int = 600
    # How Spiris counts the minute is not documented: any 60 seconds ("sliding") or calendar minutes ("fixed").
    rate_limit_window: Literal["sliding", "fixed"] = "sliding"
    # An injected 429 (faults.rate_429) asks the client to wait this long.
    injected_retry_after_seconds: int = 1
    temp_file_lifetime_seconds: int = 600
    jwt_secret: str = "spiris-sandbox-jwt-signing-secret-not-for-production"
    random_seed: int | None = None
