"""Access tokens are reused while they are good: a short-lived token is not refreshed on every request,
and one sync reads (and decrypts) its token once, not before every Spiris request."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from invoice_bridge.consent.refresher import AccessTokens, TokenBroker
from invoice_bridge.consent.services import ConsentServices
from invoice_bridge.models.common import utcnow
from invoice_bridge.models.integration import Integration, TokenSet


def _tokens(lifetime: float, age: float, issued_known: bool = True) -> TokenSet:
    now = utcnow()
    return TokenSet(
        access_token="access", refresh_token="refresh",
        issued_at=now - timedelta(seconds=age) if issued_known else None,
        expires_at=now - timedelta(seconds=age) + timedelta(seconds=lifetime),
    )


def test_the_refresh_margin_is_at_most_half_the_tokens_lifetime(services: ConsentServices) -> None:
    broker = TokenBroker(services)
    assert services.config.refresh_margin_seconds == 300
    # 8-second tokens (the soak's): good for the first half of their life, instead of never.
    assert broker.usable(_tokens(lifetime=8, age=1))
    assert not broker.usable(_tokens(lifetime=8, age=5))
    # Hour-long tokens keep the configured margin, as do token sets stored before `issued_at` existed.
    assert broker.usable(_tokens(lifetime=3600, age=3200))
    assert not broker.usable(_tokens(lifetime=3600, age=3400))
    assert not broker.usable(_tokens(lifetime=3600, age=3400, issued_known=False))


class CountingTokenStore:
    """The real store, counting the loads (each is a table read and a KMS decrypt)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.loads = 0

    def load(self, integration: Integration) -> Any:
        self.loads += 1
        return self.store.load(integration)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_one_sync_reads_its_token_once(services: ConsentServices) -> None:
    integration = Integration(issuer_id="issuer-a", contact_name="A", contact_email="a@exempel.se")
    services.tokens.save(integration, _tokens(lifetime=3600, age=0), expected_version=None)
    counting = CountingTokenStore(services.tokens)
    counted = dataclasses.replace(services, tokens=counting)
    tokens = AccessTokens(integration, lambda: counted)
    assert [tokens() for _ in range(10)] == ["access"] * 10
    assert counting.loads == 1
