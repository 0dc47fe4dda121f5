"""An integration: one issuer's connection to its Spiris company, and the consent that makes it."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import EmailStr, Field

from .common import Language, Model, new_id, stockholm_date, utcnow


class IntegrationStatus(StrEnum):
    PENDING_CONSENT = "pending_consent"
    ACTIVE = "active"
    PAUSED = "paused"
    NEEDS_RECONSENT = "needs_reconsent"
    ERROR = "error"
    REVOKED = "revoked"


class ConnectedCompany(Model):
    name: str
    org_number: str
    company_identifier: str | None = None  # CompanySettings.CompanyIdentifier
    customer_id: str | None = None  # the JWT's customer_id claim


class Integration(Model):
    id: str = Field(default_factory=new_id)
    issuer_id: str
    source: str = "spiris"
    contact_name: str
    contact_email: EmailStr
    language: Language = "sv"
    status: IntegrationStatus = IntegrationStatus.PENDING_CONSENT
    enabled: bool = True
    company: ConnectedCompany | None = None
    # Incremental sync: Spiris' ServerTimeUtc of the last fully read window.
    watermark: datetime | None = None
    first_sync_done: bool = False
    # When the consent first made the integration active: invoices dated before it are held for the office.
    activated_at: datetime | None = None
    last_sync_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    # Hash of the currently valid invitation token; a re-invite replaces it.
    invitation_hash: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # Optimistic lock: every write is conditional on the version read (0: not stored yet) and bumps it, so
    # a concurrent revoke or change is never overwritten (integrations.update_integration redoes on conflict).
    version: int = 0

    @property
    def active_since(self) -> date:
        """The Stockholm date from which invoices may go out by themselves. Integrations activated before
        `activated_at` was recorded fall back to their creation: they cannot have become active earlier."""
        return stockholm_date(self.activated_at or self.created_at)


class TokenSet(Model):
    """The OAuth token set as Spiris returns it; stored only as KMS ciphertext."""

    access_token: str
    refresh_token: str
    expires_at: datetime
    scope: str | None = None
    token_type: str = "bearer"
    # When the server issued it: with `expires_at`, the token's lifetime (None in sets stored before).
    issued_at: datetime | None = None
