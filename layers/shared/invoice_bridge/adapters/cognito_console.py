"""The console's user pool (Amazon Cognito): sign-in with its challenges, and a user's standing.

Errors are mapped to the few reasons a sign-in page can tell a person. An unknown user and a wrong
password read the same (no user enumeration; the app client also sets PreventUserExistenceErrors).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..console.auth import COGNITO_CHALLENGES, PoolChallenge, RefusalReason, SignInRefused, Tokens
from ..console.sessions import UserStanding
from .aws import client

_REFUSALS: dict[str, RefusalReason] = {
    "NotAuthorizedException": "wrong_credentials",
    "UserNotFoundException": "wrong_credentials",
    "UserNotConfirmedException": "wrong_credentials",
    "PasswordResetRequiredException": "reset_required",
    "CodeMismatchException": "wrong_code",
    "EnableSoftwareTokenMFAException": "wrong_code",
    "ExpiredCodeException": "expired",
    "InvalidPasswordException": "weak_password",
    "TooManyRequestsException": "throttled",
    "TooManyFailedAttemptsException": "throttled",
    "LimitExceededException": "throttled",
}


def _refused(exc: ClientError) -> SignInRefused:
    code = exc.response["Error"]["Code"]
    if code not in _REFUSALS:
        raise exc
    detail = exc.response["Error"].get("Message", "") if code == "InvalidPasswordException" else ""
    # A challenge answered after its session ran out reads as NotAuthorized "Invalid session ...".
    if code == "NotAuthorizedException" and "session" in exc.response["Error"].get("Message", "").lower():
        return SignInRefused("expired")
    return SignInRefused(_REFUSALS[code], detail)


class CognitoConsoleUsers:
    def __init__(self, user_pool_id: str, client_id: str) -> None:
        self.user_pool_id = user_pool_id
        self.client_id = client_id

    @property
    def _idp(self) -> Any:
        return client("cognito-idp")

    @staticmethod
    def _answer(response: dict[str, Any]) -> Tokens | PoolChallenge:
        result = response.get("AuthenticationResult")
        if result:
            return Tokens(id_token=result["IdToken"], access_token=result["AccessToken"])
        kind = COGNITO_CHALLENGES.get(response.get("ChallengeName", ""))
        if kind is None:  # SMS, e-mail OTP, custom: not offered by this pool's settings
            raise SignInRefused("no_access")
        return PoolChallenge(kind, response["Session"])

    def _respond(self, name: str, session: str, responses: dict[str, str]) -> Tokens | PoolChallenge:
        try:
            return self._answer(
                self._idp.respond_to_auth_challenge(
                    ClientId=self.client_id, ChallengeName=name, Session=session, ChallengeResponses=responses
                )
            )
        except ClientError as exc:
            raise _refused(exc) from None

    def password(self, username: str, password: str) -> Tokens | PoolChallenge:
        try:
            response = self._idp.initiate_auth(
                ClientId=self.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
        except ClientError as exc:
            raise _refused(exc) from None
        return self._answer(response)

    def new_password(self, username: str, session: str, new_password: str) -> Tokens | PoolChallenge:
        return self._respond(
            "NEW_PASSWORD_REQUIRED", session, {"USERNAME": username, "NEW_PASSWORD": new_password}
        )

    def start_totp_setup(self, session: str) -> tuple[str, str]:
        try:
            answer = self._idp.associate_software_token(Session=session)
        except ClientError as exc:
            raise _refused(exc) from None
        return answer["SecretCode"], answer["Session"]

    def finish_totp_setup(self, username: str, session: str, code: str) -> Tokens | PoolChallenge:
        try:
            verified = self._idp.verify_software_token(
                Session=session, UserCode=code, FriendlyDeviceName="invoice-bridge console"
            )
        except ClientError as exc:
            raise _refused(exc) from None
        if verified.get("Status") != "SUCCESS":
            raise SignInRefused("wrong_code")
        return self._respond("MFA_SETUP", verified["Session"], {"USERNAME": username})

    def totp_code(self, username: str, session: str, code: str) -> Tokens | PoolChallenge:
        return self._respond("SOFTWARE_TOKEN_MFA", session, {"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": code})

    def standing(self, username: str) -> UserStanding | None:
        try:
            user = self._idp.admin_get_user(UserPoolId=self.user_pool_id, Username=username)
            groups = self._idp.admin_list_groups_for_user(
                UserPoolId=self.user_pool_id, Username=username, Limit=60
            )["Groups"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "UserNotFoundException":
                return None
            raise
        return UserStanding(enabled=bool(user.get("Enabled", True)), groups=tuple(g["GroupName"] for g in groups))
