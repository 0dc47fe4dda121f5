"""An issuer's operator account as the office sets it up (PUT/DELETE /issuers/{id}/operator).

Credentials are stored only encrypted. An InExchange issuer's client token is created from the office's
partner key with our issuer id as `erpId` (unless the office pastes one); a token that is replaced or
removed is revoked at InExchange. The operator's print settings are read back, so the office is told
when letters cannot go out or would not carry our PDF (`print_warnings`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..models.issuer import Issuer, OperatorPrint
from ..observability import logger
from ..ports import InExchangePartner, Operator, OperatorCredentialStore, OperatorError


class AccountSetupError(Exception):
    """The account cannot be set up as asked (a 4xx for the office); `message` says why."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class OperatorAccounts:
    store: OperatorCredentialStore
    connect: Callable[[str, str, dict[str, str]], Operator]  # (issuer id, provider, credentials)
    partner: Callable[[], InExchangePartner | None]

    def set_up(self, issuer_id: str, provider: str, credentials: dict[str, str]) -> OperatorPrint:
        """Store the account (creating an InExchange client token when none is given) and read its
        print settings. Raises AccountSetupError or OperatorError; nothing is stored then."""
        credentials = {k: v for k, v in credentials.items() if v}
        if provider == "inexchange" and not credentials.get("client_token"):
            credentials = {"client_token": self._partner().create_client_token(issuer_id), "erp_id": issuer_id}
        previous = self.store.load(issuer_id)
        self.store.save(issuer_id, provider, credentials)
        self._revoke_replaced(issuer_id, previous, credentials)
        logger.info("operator account set up", extra={"issuer_id": issuer_id, "provider": provider})
        return self.check_print(issuer_id, provider, credentials)

    def remove(self, issuer_id: str) -> None:
        """Forget the account; an InExchange client token is revoked first (the issuer has left)."""
        previous = self.store.load(issuer_id)
        self._revoke_replaced(issuer_id, previous, {})
        self.store.delete(issuer_id)

    def check(self, issuer_id: str) -> OperatorPrint | None:
        stored = self.store.load(issuer_id)
        return self.check_print(issuer_id, *stored) if stored is not None else None

    def check_print(self, issuer_id: str, provider: str, credentials: dict[str, str]) -> OperatorPrint:
        """The print settings as the operator reports them; a failure to read them is recorded, not raised
        (the account is stored either way)."""
        try:
            service = self.connect(issuer_id, provider, credentials).print_service()
        except OperatorError as exc:
            return OperatorPrint(detail=f"the operator's print settings could not be read: {exc}")
        except Exception as exc:  # noqa: BLE001 - a best-effort read (e.g. the vendor key is not stored)
            logger.warning("print settings not read", extra={"issuer_id": issuer_id, "error": type(exc).__name__})
            return OperatorPrint(detail=f"the operator's print settings could not be read ({type(exc).__name__})")
        return OperatorPrint(enabled=service.enabled, own_image=service.own_image, detail=service.detail)

    def _partner(self) -> InExchangePartner:
        partner = self.partner()
        if partner is None:
            raise AccountSetupError(
                "no_partner_key",
                "no InExchange partner API key is stored: give the issuer's client_token, or store the "
                "office's partner key (INEXCHANGE_PARTNER_API_KEY_PARAMETER) so a token can be created",
            )
        return partner

    def _revoke_replaced(
        self, issuer_id: str, previous: tuple[str, dict[str, str]] | None, current: dict[str, str]
    ) -> None:
        if previous is None or previous[0] != "inexchange":
            return
        old = previous[1].get("client_token")
        if not old or old == current.get("client_token"):
            return
        partner = self.partner()
        try:
            if partner is None:
                raise AccountSetupError("no_partner_key", "no partner key to revoke with")
            partner.revoke_client_token(old)
        except (OperatorError, AccountSetupError) as exc:  # the new account stands; the office is told in logs
            logger.warning("old InExchange client token not revoked", extra={"issuer_id": issuer_id,
                                                                            "error": type(exc).__name__})
            return
        logger.info("old InExchange client token revoked", extra={"issuer_id": issuer_id})


def print_warnings(issuer: Issuer) -> list[str]:
    """What the office should know about letters for this issuer (empty: nothing)."""
    if not issuer.dispatch.print_fallback or issuer.operator_provider is None:
        return []
    checked = issuer.operator_print
    if checked is None:
        return []
    if checked.enabled is None:
        return [f"letters: {checked.detail or 'the operator print settings could not be read'}"]
    if not checked.enabled:
        return ["letters cannot be sent: the operator's print service is off for this issuer's account; "
                "turn it on in the operator's portal or turn print_fallback off"]
    if checked.own_image is False:
        return ["letters will be printed on the operator's own template, not our PDF: turn on own-image "
                "printing (use_own_pdf) in the operator account"]
    return []
