"""Sign-in against a real (moto) Cognito user pool over HTTP: the password, the pool's challenges (new
password, TOTP set-up, TOTP code, checked strictly), and the tokens verified against the pool's JWKS
as the console fetches it. A token the pool did not sign, or signed for another client, is refused."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from invoice_bridge.adapters import aws as aws_clients
from invoice_bridge.adapters.cognito_console import CognitoConsoleUsers
from invoice_bridge.console.auth import PoolChallenge, SignInFlow, SignInRefused, Tokens, TokenVerifier
from totp import totp, wrong_code

from sandbox.moto_server import AtomicMotoServer

REGION = "eu-north-1"
PASSWORD = "Correct-Horse-42"


@dataclass
class Pool:
    endpoint: str
    idp: Any
    pool_id: str
    client_id: str

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.pool_id}"

    def flow(self, client_id: str | None = None) -> SignInFlow:
        verifier = TokenVerifier(self.issuer, client_id or self.client_id,
                                 f"{self.endpoint}/{self.pool_id}/.well-known/jwks.json")
        return SignInFlow(CognitoConsoleUsers(self.pool_id, self.client_id), verifier)

    def user(self, email: str, group: str | None, *, temporary: bool = False) -> None:
        self.idp.admin_create_user(
            UserPoolId=self.pool_id, Username=email, MessageAction="SUPPRESS",
            TemporaryPassword=PASSWORD if temporary else "Temporary-Pass-1",
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
        )
        if not temporary:
            self.idp.admin_set_user_password(UserPoolId=self.pool_id, Username=email, Password=PASSWORD, Permanent=True)
        if group:
            self.idp.admin_add_user_to_group(UserPoolId=self.pool_id, Username=email, GroupName=group)


def _pool(endpoint: str, mfa: bool) -> Pool:
    idp = boto3.client("cognito-idp", endpoint_url=endpoint, region_name=REGION,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    pool_id = idp.create_user_pool(PoolName="console", UsernameAttributes=["email"])["UserPool"]["Id"]
    if mfa:
        idp.set_user_pool_mfa_config(UserPoolId=pool_id, MfaConfiguration="ON",
                                     SoftwareTokenMfaConfiguration={"Enabled": True})
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="console", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]["ClientId"]
    for group in ("office-admins", "office-staff"):
        idp.create_group(UserPoolId=pool_id, GroupName=group)
    return Pool(endpoint, idp, pool_id, client_id)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = AtomicMotoServer()
    url = server.start()
    patch = pytest.MonkeyPatch()
    for name, value in {"AWS_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP": "true"}.items():
        patch.setenv(name, value)
    aws_clients.reset_clients()
    try:
        yield url
    finally:
        patch.undo()
        aws_clients.reset_clients()
        server.stop()


def test_password_sign_in_gives_the_user_and_groups_from_verified_tokens(endpoint: str) -> None:
    pool = _pool(endpoint, mfa=False)
    pool.user("anna@office.example", "office-staff")
    flow = pool.flow()
    user = flow.finish(flow.provider.password("anna@office.example", PASSWORD))
    assert not isinstance(user, PoolChallenge)
    assert user.groups == ("office-staff",) and user.email == "anna@office.example"


def test_an_unknown_user_and_a_wrong_password_read_the_same(endpoint: str) -> None:
    pool = _pool(endpoint, mfa=False)
    pool.user("anna@office.example", "office-admins")
    provider = pool.flow().provider
    reasons = []
    for username, password in (("anna@office.example", "Wrong-Pass-999"), ("nobody@office.example", PASSWORD)):
        with pytest.raises(SignInRefused) as refused:
            provider.password(username, password)
        reasons.append(refused.value.reason)
    assert reasons == ["wrong_credentials", "wrong_credentials"]


def test_a_user_outside_the_office_groups_is_refused(endpoint: str) -> None:
    pool = _pool(endpoint, mfa=False)
    pool.user("guest@office.example", None)
    flow = pool.flow()
    with pytest.raises(SignInRefused) as refused:
        flow.finish(flow.provider.password("guest@office.example", PASSWORD))
    assert refused.value.reason == "no_access"


def test_tokens_not_signed_by_the_pool_or_for_another_client_are_refused(endpoint: str) -> None:
    pool = _pool(endpoint, mfa=False)
    pool.user("anna@office.example", "office-admins")
    flow = pool.flow()
    tokens = flow.provider.password("anna@office.example", PASSWORD)
    assert isinstance(tokens, Tokens)
    # The same claims, signed with a key that is not the pool's (same kid, so the JWKS lookup succeeds).
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = jwt.decode(tokens.id_token, options={"verify_signature": False})
    header = jwt.get_unverified_header(tokens.id_token)
    forged = jwt.encode(claims, forger, algorithm="RS256", headers={"kid": header["kid"]})
    with pytest.raises(jwt.InvalidTokenError):
        flow.verifier.user(Tokens(forged, tokens.access_token))
    with pytest.raises(jwt.InvalidTokenError):  # a genuine token, but for another app client
        pool.flow(client_id="another-client").verifier.user(tokens)
    assert flow.verifier.user(tokens).groups == ("office-admins",)


def test_new_password_then_totp_set_up_then_totp_code(endpoint: str) -> None:
    pool = _pool(endpoint, mfa=True)
    pool.user("new@office.example", "office-admins", temporary=True)
    flow = pool.flow()
    provider = flow.provider

    step = flow.finish(provider.password("new@office.example", PASSWORD))
    assert isinstance(step, PoolChallenge) and step.kind == "new_password"
    step = flow.finish(provider.new_password("new@office.example", step.session, "Brand-New-Pass-7"))
    assert isinstance(step, PoolChallenge) and step.kind == "mfa_setup"
    secret, session = provider.start_totp_setup(step.session)
    with pytest.raises(SignInRefused) as refused:
        provider.finish_totp_setup("new@office.example", session, wrong_code(secret))
    assert refused.value.reason == "wrong_code"
    user = flow.finish(provider.finish_totp_setup("new@office.example", session, totp(secret)))
    assert not isinstance(user, PoolChallenge) and user.groups == ("office-admins",)

    # From now on every sign-in asks for the code.
    step = flow.finish(provider.password("new@office.example", "Brand-New-Pass-7"))
    assert isinstance(step, PoolChallenge) and step.kind == "mfa_code"
    user = flow.finish(provider.totp_code("new@office.example", step.session, totp(secret)))
    assert not isinstance(user, PoolChallenge) and user.email == "new@office.example"
