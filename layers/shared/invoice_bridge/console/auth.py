"""Sign-in against the Cognito user pool: password, then whatever challenge the pool asks for (a new
password for a user created with a temporary one, TOTP set-up, a TOTP code), then the ID and access
tokens verified against the pool's published keys before a session is opened.

The console never keeps Cognito's tokens: once verified, they have done their job (who, which groups),
and the session store holds only what the pages need. The password goes from the form to Cognito over
TLS (USER_PASSWORD_AUTH) and is never logged or stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

import jwt

from .sessions import SignedInUser, role_of

ChallengeKind = Literal["new_password", "mfa_setup", "mfa_code"]
RefusalReason = Literal[
    "wrong_credentials", "no_access", "wrong_code", "weak_password", "expired", "throttled", "reset_required"
]
# Cognito's challenge names → the console's forms.
COGNITO_CHALLENGES: dict[str, ChallengeKind] = {
    "NEW_PASSWORD_REQUIRED": "new_password",
    "MFA_SETUP": "mfa_setup",
    "SOFTWARE_TOKEN_MFA": "mfa_code",
}


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str


@dataclass(frozen=True)
class PoolChallenge:
    kind: ChallengeKind
    session: str  # Cognito's opaque challenge session (minutes), carried by the next form


class SignInRefused(Exception):
    def __init__(self, reason: RefusalReason, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail  # Cognito's password-policy message for weak_password; never a secret


class IdentityProvider(Protocol):
    """The user pool's public sign-in API (adapters/cognito_console.py)."""

    def password(self, username: str, password: str) -> Tokens | PoolChallenge: ...
    def new_password(self, username: str, session: str, new_password: str) -> Tokens | PoolChallenge: ...
    def start_totp_setup(self, session: str) -> tuple[str, str]: ...  # (secret, session)
    def finish_totp_setup(self, username: str, session: str, code: str) -> Tokens | PoolChallenge: ...
    def totp_code(self, username: str, session: str, code: str) -> Tokens | PoolChallenge: ...


class TokenVerifier:
    """Checks the pool's RS256 signature (keys from its JWKS), issuer, audience/client, expiry and use."""

    def __init__(self, issuer: str, client_id: str, jwks_url: str, jwks: Any = None) -> None:
        self.issuer = issuer
        self.client_id = client_id
        # PyJWKClient caches the key set and fetches it again for an unknown `kid` (key rotation).
        self._jwks = jwks or jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=5)

    def _claims(self, token: str, audience: str | None) -> dict[str, Any]:
        key = self._jwks.get_signing_key_from_jwt(token).key
        return jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            issuer=self.issuer,
            audience=audience,
            leeway=30,
            # Access tokens carry no `aud` (their client is `client_id`, checked below).
            options={"require": ["exp", "iat", "iss", "sub", "token_use"], "verify_aud": audience is not None},
        )

    def user(self, tokens: Tokens) -> SignedInUser:
        """The signed-in user; jwt.InvalidTokenError when either token is not the pool's, for this client."""
        id_claims = self._claims(tokens.id_token, audience=self.client_id)
        access = self._claims(tokens.access_token, audience=None)
        if id_claims.get("token_use") != "id" or access.get("token_use") != "access":
            raise jwt.InvalidTokenError("token_use")
        if access.get("client_id") != self.client_id or access["sub"] != id_claims["sub"]:
            raise jwt.InvalidTokenError("the access token is not this user's for this client")
        groups = access.get("cognito:groups") or []
        return SignedInUser(
            username=str(access.get("username") or id_claims.get("cognito:username")),
            sub=str(id_claims["sub"]),
            email=id_claims.get("email"),
            groups=tuple(str(g) for g in groups),
        )


@dataclass(frozen=True)
class SignInFlow:
    provider: IdentityProvider
    verifier: TokenVerifier

    def finish(self, answer: Tokens | PoolChallenge) -> SignedInUser | PoolChallenge:
        """Tokens become a user (refused without an office group); a challenge goes back to the form."""
        if isinstance(answer, PoolChallenge):
            return answer
        try:
            user = self.verifier.user(answer)
        except jwt.InvalidTokenError:
            raise SignInRefused("wrong_credentials") from None
        if role_of(user.groups) is None:
            raise SignInRefused("no_access")
        return user
