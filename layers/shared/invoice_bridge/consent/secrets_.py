"""Unguessable values and their hashes: invitation tokens, OAuth state, PKCE (RFC 7636, S256)."""

from __future__ import annotations

import base64
import hashlib
import secrets


def new_token() -> str:
    """256 bits of randomness, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps instead of the token: hex sha256."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_code_verifier() -> str:
    """A PKCE verifier: 64 characters of the unreserved alphabet (RFC 7636 asks for 43..128)."""
    return secrets.token_urlsafe(48)


def code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
