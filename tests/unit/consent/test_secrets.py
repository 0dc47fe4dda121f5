"""Invitation tokens, state and PKCE values: random enough, hashed for storage, S256 as RFC 7636 says."""

from __future__ import annotations

import base64
import hashlib

from invoice_bridge.consent.secrets_ import code_challenge, new_code_verifier, new_token, token_hash


def test_token_has_256_bits_and_is_url_safe() -> None:
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert len(base64.urlsafe_b64decode(token + "=")) == 32
        assert all(c.isalnum() or c in "-_" for c in token)


def test_hash_is_sha256_hex_and_not_the_token() -> None:
    token = new_token()
    assert token_hash(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token_hash(token) != token and len(token_hash(token)) == 64
    assert token_hash(token) != token_hash(token[:-1] + ("A" if token[-1] != "A" else "B"))


def test_pkce_s256_matches_rfc7636_appendix_b() -> None:
    # RFC 7636 Appendix B test vector.
    assert (
        code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_verifier_length_within_rfc_bounds() -> None:
    verifier = new_code_verifier()
    assert 43 <= len(verifier) <= 128
