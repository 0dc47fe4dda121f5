"""The secret check that runs after every end-to-end test can find what it looks for."""

from __future__ import annotations

from log_hygiene import secrets_in

from sandbox.scenario import CONTACT_PASSWORD


def test_the_check_finds_what_it_looks_for() -> None:
    assert secrets_in('{"value": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkw.x"}')
    assert secrets_in("GET /oauth/callback?code=abc123&state=xyz")
    assert secrets_in(f"login with {CONTACT_PASSWORD}")
    assert not secrets_in('{"message": "invoice rendered", "invoice_id": "abc"}')
