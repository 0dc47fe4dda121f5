"""What the consent capability needs from the outside: its bundle, built by `invoice_bridge.wiring`
(`consent_services`; tests hand their own through `wiring.override`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..models.integration import Integration, TokenSet
from ..ports import (
    DocumentStore,
    IntegrationRepository,
    Invitations,
    IssuerRepository,
    Mailer,
    OAuthStates,
    OperatorCredentialStore,
    SpirisIdentity,
    StoredTokens,
)

if TYPE_CHECKING:
    from ..dispatch.accounts import OperatorAccounts
    from ..models.spiris import CompanySettings  # the Spiris models: the OAuth callback's only


class Cipher(Protocol):
    def encrypt(self, plaintext: bytes, context: dict[str, str]) -> bytes: ...
    def decrypt(self, ciphertext: bytes, context: dict[str, str]) -> bytes: ...


class LeasedTokenStore(Protocol):
    """The TokenStore port plus the refresh lease (one refresher at a time)."""

    def load(self, integration: Integration) -> StoredTokens | None: ...
    def save(
        self,
        integration: Integration,
        tokens: TokenSet,
        expected_version: int | None,
        lease_owner: str | None = None,
    ) -> int: ...
    def delete(self, integration: Integration) -> None: ...
    def version_of(self, integration: Integration) -> int | None: ...
    def acquire_lease(
        self, integration: Integration, version: int, owner: str, seconds: int, now: float
    ) -> bool: ...
    def release_lease(self, integration: Integration, owner: str) -> None: ...


@dataclass(frozen=True)
class ConsentConfig:
    public_base_url: str
    office_name: str = "Byrån"
    office_email: str = "office@example.com"
    invitation_ttl_days: int = 14
    state_ttl_seconds: int = 600
    # After `invalid_grant`, e-mail the contact a fresh link by itself (the office is told either way).
    reinvite_on_invalid_grant: bool = True
    # Refresh when the access token has less than this left.
    refresh_margin_seconds: int = 300

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_base_url.rstrip('/')}/oauth/callback"

    def consent_url(self, token: str) -> str:
        return f"{self.public_base_url.rstrip('/')}/consent/{token}"


@dataclass
class ConsentServices:
    config: ConsentConfig
    issuers: IssuerRepository
    integrations: IntegrationRepository
    invitations: Invitations
    states: OAuthStates
    tokens: LeasedTokenStore
    identity: SpirisIdentity
    # Reads the connected company with a fresh access token; raises SpirisAccessError with its code (4002, 4011).
    read_company: Callable[[str], CompanySettings]
    mailer: Mailer
    cipher: Cipher
    documents: DocumentStore | None = None
    operator_credentials: OperatorCredentialStore | None = None
    operator_accounts: OperatorAccounts | None = None  # the admin routes that set up operator accounts

