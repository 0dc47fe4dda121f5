"""RFC 6238 one-time codes (SHA-1, 30 s, 6 digits), as an authenticator app computes them from the key
Cognito shows at TOTP set-up (base32)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time


def totp(secret: str, at: float | None = None) -> str:
    padded = secret + "=" * (-len(secret) % 8)
    counter = struct.pack(">Q", int((time.time() if at is None else at) // 30))
    digest = hmac.new(base64.b32decode(padded, casefold=True), counter, hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def wrong_code(secret: str) -> str:
    """A well-formed code that is not the current one."""
    return f"{(int(totp(secret)) + 1) % 1_000_000:06d}"
