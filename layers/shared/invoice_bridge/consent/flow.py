"""The consent flow: order an integration, show the link, start the grant, finish it at the callback.

GET never changes anything (mail scanners open links); the invitation is consumed only when the grant
succeeds and the connected company is the issuer's. Every refusal answers with a page that says what to
do and leaves no token stored.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..identifiers import format_org_number, is_valid_org_number, org_number_or_none
from ..integrations import update_integration
from ..models.common import Language, stockholm_date, utcnow
from ..models.integration import ConnectedCompany, Integration, IntegrationStatus, TokenSet
from ..models.issuer import Issuer
from ..observability import logger
from ..ports import (
    ConflictError,
    InvalidGrant,
    InvitationRecord,
    Mail,
    NotFound,
    OAuthStateRecord,
    SpirisError,
    StateUnusable,
)
from .pages import (
    MailContent,
    Page,
    bad_state_page,
    explanation_page,
    invitation_mail,
    notice_mail,
    result_page,
)
from .secrets_ import code_challenge, new_code_verifier, new_token, token_hash
from .services import ConsentServices
from .texts import texts

if TYPE_CHECKING:  # annotations only: the consent pages' cold start does not build the Spiris models
    from ..models.spiris import CompanySettings

MODULE_MISSING = 4002
NO_ACCESS = 4011


def same_company(issuer_org_number: str, spiris_org_number: str | None) -> bool:
    expected = org_number_or_none(issuer_org_number)
    return expected is not None and expected == org_number_or_none(spiris_org_number)


def customer_id_claim(access_token: str) -> str | None:
    """The JWT's `customer_id` (Visma Online company GUID). Read only; the token is never trusted for more."""
    import jwt  # only the OAuth callback reads a token: the consent pages' cold start does not load it

    try:
        claims = jwt.decode(access_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    value = claims.get("customer_id") or claims.get("http://vismaonline.com/claimtypes/customer_id")
    return str(value) if value else None


@dataclass(frozen=True)
class Invitation:
    integration: Integration
    consent_url: str


@dataclass(frozen=True)
class Redirect:
    location: str


class ConsentFlow:
    def __init__(self, services: ConsentServices):
        self.s = services

    # --- office side --------------------------------------------------------------------------

    def order_integration(
        self, issuer: Issuer, contact_name: str, contact_email: str, language: Language | None = None
    ) -> Invitation:
        integration = Integration(
            issuer_id=issuer.id,
            contact_name=contact_name,
            contact_email=contact_email,
            language=language or issuer.language,
        )
        return self._invite(issuer, integration)

    def reinvite(self, integration: Integration) -> Invitation:
        """A fresh link for a stored integration (older links stop working). ConflictError when it was
        revoked meanwhile (a revoked integration is never re-invited)."""
        issuer = self.s.issuers.get(integration.issuer_id)
        return self._invite(issuer, integration)

    def _invite(self, issuer: Issuer, integration: Integration) -> Invitation:
        token = new_token()
        hashed = token_hash(token)
        now = utcnow()
        self.s.invitations.create(
            InvitationRecord(
                token_hash=hashed,
                integration_id=integration.id,
                issuer_id=issuer.id,
                created_at=now,
                expires_at=now + timedelta(days=self.s.config.invitation_ttl_days),
            )
        )

        # Only the newest link works: the integration remembers which hash is current.
        def current_link(current: Integration) -> Integration:
            if current.status == IntegrationStatus.REVOKED:
                raise ConflictError(f"integration {current.id} was revoked")
            return current.model_copy(update={"invitation_hash": hashed, "updated_at": now})

        if integration.version == 0:  # a new integration: stored with its first link
            integration = current_link(integration)
            self.s.integrations.put(integration)
        else:
            integration = update_integration(self.s.integrations, integration.id, current_link)
        consent_url = self.s.config.consent_url(token)
        content = invitation_mail(
            integration.language,
            self.s.config.office_name,
            issuer.name,
            integration.contact_name,
            consent_url,
            self.s.config.invitation_ttl_days,
        )
        self._mail_contact(integration, content)
        logger.info("consent link sent", extra={"integration_id": integration.id, "issuer_id": issuer.id})
        return Invitation(integration=integration, consent_url=consent_url)

    def revoke(self, integration: Integration) -> Integration:
        """Revoke the grant at Spiris, forget the tokens, stop old links. Redone on a concurrent change:
        a consent that completed meanwhile has its fresh tokens revoked too."""

        def revoked(current: Integration) -> Integration:
            self._forget_tokens(current)
            return current.model_copy(
                update={"status": IntegrationStatus.REVOKED, "invitation_hash": None, "updated_at": utcnow()}
            )

        return update_integration(self.s.integrations, integration.id, revoked)

    def _forget_tokens(self, integration: Integration) -> None:
        stored = self.s.tokens.load(integration)
        if stored is None:
            return
        try:
            self.s.identity.revoke(stored.tokens.refresh_token)
        except Exception as exc:  # noqa: BLE001 - the tokens are forgotten either way
            logger.warning(
                "revocation at Spiris failed", extra={"integration_id": integration.id, "error": type(exc).__name__}
            )
        self.s.tokens.delete(integration)

    # --- the contact's side -------------------------------------------------------------------

    def _language_for(self, invitation: InvitationRecord | None) -> str:
        if invitation is None:
            return "sv"
        try:
            return self.s.integrations.get(invitation.integration_id).language
        except Exception:  # noqa: BLE001
            return "sv"

    def _check_link(self, token: str) -> tuple[InvitationRecord, Integration, Issuer] | Page:
        office = self.s.config.office_name
        record = self.s.invitations.get(token_hash(token)) if token else None
        if record is None:
            return result_page("unknown_link", "sv", office)
        try:
            integration = self.s.integrations.get(record.integration_id)
        except Exception:  # noqa: BLE001 - the integration was deleted: the link leads nowhere
            return result_page("unknown_link", "sv", office)
        language = integration.language
        if record.used_at is not None:
            return result_page("used_link", language, office)
        if integration.invitation_hash != record.token_hash or record.expires_at <= utcnow():
            return result_page("expired_link", language, office)
        if integration.status == IntegrationStatus.REVOKED:
            return result_page("expired_link", language, office)
        issuer = self.s.issuers.get(integration.issuer_id)
        return record, integration, issuer

    def view(self, token: str) -> Page:
        """GET/HEAD /consent/{token}: the explanation page. Reads only."""
        checked = self._check_link(token)
        if isinstance(checked, Page):
            return checked
        _, integration, issuer = checked
        return explanation_page(
            integration.language,
            self.s.config.office_name,
            issuer.name,
            format_org_number(issuer.org_number),
        )

    def start(self, token: str) -> Redirect | Page:
        """POST /consent/{token}: a fresh state + PKCE verifier, then off to the authorize endpoint."""
        checked = self._check_link(token)
        if isinstance(checked, Page):
            return checked
        record, integration, _ = checked
        state = new_token()
        verifier = new_code_verifier()
        state_hashed = token_hash(state)
        self.s.states.create(
            OAuthStateRecord(
                state_hash=state_hashed,
                integration_id=integration.id,
                invitation_hash=record.token_hash,
                verifier_ciphertext=self.s.cipher.encrypt(
                    verifier.encode(), self._state_context(state_hashed)
                ),
                expires_at=utcnow() + timedelta(seconds=self.s.config.state_ttl_seconds),
            )
        )
        logger.info("consent started", extra={"integration_id": integration.id})
        return Redirect(
            self.s.identity.authorize_url(state, code_challenge(verifier), self.s.config.redirect_uri)
        )

    @staticmethod
    def _state_context(state_hashed: str) -> dict[str, str]:
        return {"purpose": "pkce_verifier", "state_hash": state_hashed}

    def callback(self, state: str | None, code: str | None, error: str | None) -> Page:
        """GET /oauth/callback: finish the grant or say precisely why not. Never logs state or code."""
        office = self.s.config.office_name
        if not state:
            return bad_state_page("unknown", "sv", office)
        state_hashed = token_hash(state)
        try:
            taken = self.s.states.take(state_hashed, utcnow())  # single use, first thing
        except StateUnusable as exc:
            return self._unusable_state_page(exc)
        integration = self.s.integrations.get(taken.integration_id)
        language = integration.language

        invitation = self.s.invitations.get(taken.invitation_hash)
        if invitation is None or invitation.used_at is not None:
            return result_page("used_link", language, office)
        if integration.invitation_hash != invitation.token_hash or invitation.expires_at <= utcnow():
            return result_page("expired_link", language, office)
        if error or not code:
            return self._denied(integration, error or "no_code")

        verifier = self.s.cipher.decrypt(
            taken.verifier_ciphertext, self._state_context(state_hashed)
        ).decode()
        try:
            tokens = self.s.identity.exchange_code(code, verifier, self.s.config.redirect_uri)
        except InvalidGrant:
            logger.warning("code exchange refused", extra={"integration_id": integration.id})
            return bad_state_page("exchange", language, office)

        issuer = self.s.issuers.get(integration.issuer_id)
        try:
            company = self.s.read_company(tokens.access_token)
        except Exception as exc:  # noqa: BLE001 - the grant is revoked whatever failed; a Spiris refusal is mapped
            refused = self._refused_by_spiris(exc, tokens, integration)
            if refused is None:
                raise
            return refused

        if not same_company(issuer.org_number, company.CorporateIdentityNumber):
            return self._wrong_company(integration, issuer, tokens, company)
        return self._connect(integration, issuer, invitation, tokens, company.Name or issuer.name, company)

    def _unusable_state_page(self, exc: StateUnusable) -> Page:
        logger.warning("oauth callback with unusable state", extra={"reason": exc.reason})
        language: Language = "sv"
        if exc.integration_id:
            with suppress(NotFound):
                language = self.s.integrations.get(exc.integration_id).language
        return bad_state_page(exc.reason, language, self.s.config.office_name)

    def _denied(self, integration: Integration, reason: str) -> Page:
        """The contact said no at Spiris (or the callback came without a code): the link still works."""
        self._set_status(
            integration,
            IntegrationStatus.PENDING_CONSENT,
            reason if reason == "access_denied" else f"oauth_{reason}"[:60],
        )
        logger.info("consent denied", extra={"integration_id": integration.id, "oauth_error": reason[:40]})
        return result_page("denied", integration.language, self.s.config.office_name)

    def _refused_by_spiris(self, exc: Exception, tokens: TokenSet, integration: Integration) -> Page | None:
        """The page for a company Spiris will not let us read, or None when `exc` is no such refusal."""
        self._revoke_quietly(tokens, integration)  # whatever failed
        error_code = exc.code if isinstance(exc, SpirisError) else None
        language, office = integration.language, self.s.config.office_name
        if error_code == MODULE_MISSING:
            self._set_status(integration, IntegrationStatus.ERROR, "module_missing")
            return result_page("module_missing", language, office)
        if error_code == NO_ACCESS:
            self._set_status(integration, IntegrationStatus.ERROR, "no_access")
            return result_page("no_access", language, office)
        if isinstance(error_code, int) and 4000 <= error_code < 5000:
            # Startup guide not done (4003), company inactive (4004), product variant (4009), licence (4012)...
            self._set_status(integration, IntegrationStatus.ERROR, f"spiris_{error_code}")
            return result_page("spiris_refused", language, office, code=str(error_code))
        return None

    def _wrong_company(
        self, integration: Integration, issuer: Issuer, tokens: TokenSet, company: CompanySettings
    ) -> Page:
        """Another company than the issuer's was connected: the grant is revoked at once."""
        self._revoke_quietly(tokens, integration)
        self._set_status(integration, IntegrationStatus.PENDING_CONSENT, "wrong_company")
        logger.warning("wrong company connected and revoked", extra={"integration_id": integration.id})
        chosen = company.CorporateIdentityNumber or "?"
        if is_valid_org_number(chosen):
            chosen = format_org_number(chosen)
        return result_page(
            "wrong_company",
            integration.language,
            self.s.config.office_name,
            company=company.Name or "?",
            chosen=chosen,
            issuer=issuer.name,
            expected=format_org_number(issuer.org_number),
        )

    def _connect(
        self,
        integration: Integration,
        issuer: Issuer,
        invitation: InvitationRecord,
        tokens: TokenSet,
        name: str,
        company: CompanySettings,
    ) -> Page:
        office = self.s.config.office_name
        language = integration.language
        org_number = org_number_or_none(company.CorporateIdentityNumber) or issuer.org_number
        now = utcnow()
        # The invitation first, by a conditional write: of two grants finished from one link, one connects.
        try:
            self.s.invitations.consume(invitation.token_hash, now)
        except ConflictError:
            self._revoke_quietly(tokens, integration)
            logger.warning("second grant from a used link revoked", extra={"integration_id": integration.id})
            return result_page("used_link", language, office)
        # Tokens next: an integration marked active always has its tokens.
        self.s.tokens.save(integration, tokens, expected_version=None)
        connected = ConnectedCompany(
            name=name,
            org_number=org_number,
            company_identifier=company.CompanyIdentifier,
            customer_id=customer_id_claim(tokens.access_token),
        )

        def active(current: Integration) -> Integration:
            if current.status == IntegrationStatus.REVOKED:  # revoked while the contact was at Spiris
                raise _RevokedMeanwhile()
            update = {
                "status": IntegrationStatus.ACTIVE,
                # The first activation only: a re-consent does not let older invoices out.
                "activated_at": current.activated_at or now,
                "last_error": None,
                "company": connected,
                "updated_at": now,
            }
            return current.model_copy(update=update)

        try:
            integration = update_integration(self.s.integrations, integration.id, active)
        except _RevokedMeanwhile:
            self._forget_tokens(integration)
            logger.warning("consent finished after a revoke; grant revoked", extra={"integration_id": integration.id})
            return result_page("expired_link", language, office)
        logger.info("integration connected", extra={"integration_id": integration.id, "issuer_id": issuer.id})
        self._mail_connected(integration, name, org_number, now)
        return result_page("done", language, office, company=name, org_number=format_org_number(org_number))

    def _mail_connected(self, integration: Integration, name: str, org_number: str, at: datetime) -> None:
        """Tell the contact what was connected: a hijacked grant becomes visible (reliability.md §1.2)."""
        t = texts(integration.language)
        office = self.s.config.office_name
        fill = {
            "company": name,
            "org_number": format_org_number(org_number),
            "office": office,
            "at": stockholm_date(at).isoformat(),  # the contact's calendar date, not UTC's
        }
        content = notice_mail(
            integration.language,
            office,
            t["mail_connected_subject"].format(**fill),
            [p.format(**fill) for p in t["mail_connected_body"]],
        )
        try:
            self._mail_contact(integration, content)
        except Exception as exc:  # noqa: BLE001 - the grant stands even when the receipt cannot be sent
            logger.warning(
                "connected mail failed", extra={"integration_id": integration.id, "error": type(exc).__name__}
            )

    def _mail_contact(self, integration: Integration, content: MailContent) -> None:
        self.s.mailer.send(
            Mail(to=[str(integration.contact_email)], subject=content.subject, text=content.text, html=content.html)
        )

    def _revoke_quietly(self, tokens: TokenSet, integration: Integration) -> None:
        try:
            self.s.identity.revoke(tokens.refresh_token)
        except Exception as exc:  # noqa: BLE001 - nothing is stored either way
            logger.warning(
                "revocation failed", extra={"integration_id": integration.id, "error": type(exc).__name__}
            )

    def _set_status(
        self, integration: Integration, status: IntegrationStatus, last_error: str | None
    ) -> None:
        def refused(current: Integration) -> Integration | None:
            # A connected integration is not downgraded by a failed second attempt from an old link, and a
            # revoked one stays revoked.
            if current.status in (IntegrationStatus.ACTIVE, IntegrationStatus.REVOKED):
                return None
            new_status = status
            if current.status == IntegrationStatus.NEEDS_RECONSENT and status == IntegrationStatus.PENDING_CONSENT:
                new_status = IntegrationStatus.NEEDS_RECONSENT  # still waiting for a new grant; the reason changed
            return current.model_copy(update={"status": new_status, "last_error": last_error, "updated_at": utcnow()})

        update_integration(self.s.integrations, integration.id, refused)


class _RevokedMeanwhile(Exception):
    """The integration was revoked while its consent was being finished."""
