"""The only code path that refreshes Spiris tokens (reliability.md §1.3).

Spiris refresh tokens are single use and rotate; two workers refreshing with the same token look like
theft and revoke the family. So: read; if the access token is still good, use it; else take a short
lease on the token item (conditional on its `version`), re-read, refresh, and write the rotated pair
(conditional on version and lease) before the new access token is used. Losers wait and re-read.
`invalid_grant` moves the integration to `needs_reconsent`, loudly.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import timedelta

from ..alerts import send_alert
from ..identifiers import format_org_number
from ..integrations import update_integration
from ..models.common import utcnow
from ..models.integration import Integration, IntegrationStatus, TokenSet
from ..observability import logger, metrics
from ..ports import ConflictError, InvalidGrant, Mail
from .flow import ConsentFlow
from .pages import notice_mail
from .services import ConsentServices
from .texts import texts

LEASE_SECONDS = 30


class NotConnected(Exception):
    """The integration has no usable grant (never connected, revoked, or needs re-consent)."""


class RefreshBusy(Exception):
    """Another worker held the refresh lease for longer than we were willing to wait."""


class TokenBroker:
    def __init__(self, services: ConsentServices, wait_seconds: float = 20.0, poll_seconds: float = 0.05):
        self.s = services
        self._wait_seconds = wait_seconds
        self._poll_seconds = poll_seconds

    def usable(self, tokens: TokenSet) -> bool:
        """Whether the access token is still good for a request, i.e. not yet within the refresh margin.

        The margin is at most half the token's lifetime: with a margin longer than the lifetime (short-lived
        tokens) every request would refresh, and every refresh costs a lease, KMS and a rotated token."""
        margin = timedelta(seconds=self.s.config.refresh_margin_seconds)
        if tokens.issued_at is not None:
            margin = min(margin, (tokens.expires_at - tokens.issued_at) / 2)
        return tokens.expires_at - margin > utcnow()

    def get_access_token(self, integration: Integration) -> str:
        """A valid access token for the integration, refreshing it when it is about to expire."""
        return self.get_tokens(integration).access_token

    def get_tokens(self, integration: Integration, rejected_access_token: str | None = None) -> TokenSet:
        """The integration's current token set, refreshed first when its access token is about to expire
        or is the one Spiris just rejected (401) although it has not expired by our clock."""
        owner = secrets.token_hex(8)
        deadline = time.monotonic() + self._wait_seconds
        while True:
            stored = self.s.tokens.load(integration)
            if stored is None:
                raise NotConnected(f"integration {integration.id} has no tokens")
            if self.usable(stored.tokens) and stored.tokens.access_token != rejected_access_token:
                return stored.tokens
            if self.s.tokens.acquire_lease(integration, stored.version, owner, LEASE_SECONDS, time.time()):
                return self._refresh_holding_lease(integration, owner, stored.version, rejected_access_token)
            # Another worker is refreshing: wait (cheaply, without decrypting) until it has written.
            pause = self._poll_seconds
            while self.s.tokens.version_of(integration) == stored.version:
                if time.monotonic() > deadline:
                    raise RefreshBusy(f"integration {integration.id}: refresh lease busy")
                time.sleep(pause * (1 + secrets.randbelow(100) / 100))
                pause = min(pause * 1.5, 1.0)
                # An expired lease (a crashed refresher) is taken over by the loop above.
                if self.s.tokens.acquire_lease(
                    integration, stored.version, owner, LEASE_SECONDS, time.time()
                ):
                    return self._refresh_holding_lease(integration, owner, stored.version, rejected_access_token)

    def _refresh_holding_lease(
        self, integration: Integration, owner: str, version: int, rejected_access_token: str | None = None
    ) -> TokenSet:
        # Double-check after taking the lease: the version cannot have moved (the lease was conditional on it).
        stored = self.s.tokens.load(integration)
        if stored is None or stored.version != version:
            self.s.tokens.release_lease(integration, owner)
            return self.get_tokens(integration, rejected_access_token)
        try:
            fresh = self.s.identity.refresh(stored.tokens.refresh_token)
        except InvalidGrant:
            self.s.tokens.release_lease(integration, owner)
            metrics.add_metric(name="RefreshFailed", unit="Count", value=1)
            self.mark_needs_reconsent(integration, "invalid_grant")
            raise NotConnected(f"integration {integration.id}: refresh token refused") from None
        except Exception:
            self.s.tokens.release_lease(integration, owner)
            metrics.add_metric(name="RefreshFailed", unit="Count", value=1)
            raise
        try:
            # The rotated refresh token is saved before the new access token is used by anyone.
            self.s.tokens.save(integration, fresh, expected_version=version, lease_owner=owner)
        except ConflictError:
            # Our lease expired and someone else refreshed: our pair is already stale at the server.
            logger.error("refreshed tokens could not be saved", extra={"integration_id": integration.id})
            raise
        logger.info("tokens refreshed", extra={"integration_id": integration.id})
        return fresh

    def mark_needs_reconsent(self, integration: Integration, reason: str) -> Integration:
        """The grant is gone: status, metric, e-mail the issuer and the office, optionally a fresh link."""
        moved = False  # whether the write that won made the transition (only that one alerts)

        def needs_reconsent(current: Integration) -> Integration | None:
            nonlocal moved
            moved = current.status not in (IntegrationStatus.NEEDS_RECONSENT, IntegrationStatus.REVOKED)
            if not moved:
                return None  # already told, or revoked meanwhile: nothing to overwrite
            return current.model_copy(
                update={"status": IntegrationStatus.NEEDS_RECONSENT, "last_error": reason, "updated_at": utcnow()}
            )

        updated = update_integration(self.s.integrations, integration.id, needs_reconsent)
        if not moved:
            return updated
        metrics.add_metric(name="IntegrationNeedsReconsent", unit="Count", value=1)
        logger.warning(
            "integration needs re-consent", extra={"integration_id": integration.id, "reason": reason}
        )
        return self.alert_needs_reconsent(updated)

    def alert_needs_reconsent(self, integration: Integration) -> Integration:
        """Tell the issuer and the office that the grant is gone (and, per setting, send a fresh link).
        Called once per transition to `needs_reconsent`, by whoever made the transition."""
        updated = integration
        issuer = self.s.issuers.get(updated.issuer_id)
        reinvited = False
        if self.s.config.reinvite_on_invalid_grant:
            try:
                updated = ConsentFlow(self.s).reinvite(updated).integration
                reinvited = True
            except Exception as exc:  # noqa: BLE001 - the alert below still goes out
                logger.warning(
                    "re-invite failed", extra={"integration_id": integration.id, "error": type(exc).__name__}
                )
        t = texts(issuer.language)
        office = self.s.config.office_name
        reinvite_text = t["mail_reconsent_reinvited" if reinvited else "mail_reconsent_not_reinvited"].format(
            office=office
        )
        fill = {
            "issuer": f"{issuer.name} ({format_org_number(issuer.org_number)})",
            "contact": f"{updated.contact_name} <{updated.contact_email}>",
            "reinvite": reinvite_text,
            "office": office,
        }
        content = notice_mail(
            issuer.language,
            office,
            t["mail_reconsent_subject"].format(**fill),
            [p.format(**fill) for p in t["mail_reconsent_body"]],
        )
        recipients = list(dict.fromkeys([str(issuer.notification_email), self.s.config.office_email]))
        send_alert(self.s.mailer, Mail(to=recipients, subject=content.subject, text=content.text, html=content.html))
        return updated


class AccessTokens:
    """One integration's access token for the requests of one invocation (a sync): read through the broker
    again only once the token held is within its refresh margin, instead of a table read and a KMS
    decrypt before every request. A token refreshed meanwhile by another worker does not end ours: an
    access token stays valid until it expires."""

    def __init__(self, integration: Integration, services: Callable[[], ConsentServices]) -> None:
        self._integration = integration
        self._services = services  # called on the first request: a sync that reads nothing builds nothing
        self._broker: TokenBroker | None = None
        self._held: TokenSet | None = None

    def __call__(self) -> str:
        if self._broker is None:
            self._broker = TokenBroker(self._services())
        if self._held is None or not self._broker.usable(self._held):
            self._held = self._broker.get_tokens(self._integration)
        return self._held.access_token

    def renew(self, rejected: str) -> str:
        """Spiris answered 401 to `rejected`: a token refreshed meanwhile by another worker, else a refresh
        now (one refresher at a time, as always). Raises NotConnected when the grant itself is gone."""
        self()  # builds the broker on first use
        assert self._broker is not None
        self._held = self._broker.get_tokens(self._integration, rejected_access_token=rejected)
        return self._held.access_token


def get_access_token(integration: Integration, services: ConsentServices) -> str:
    """A valid Spiris access token for `integration` (refreshed when needed; one refresher at a time).

    Raises NotConnected when the grant is gone (the integration is then `needs_reconsent`, alerted).
    """
    return TokenBroker(services).get_access_token(integration)
