"""Build the consent capability's services from Settings (wiring only; handlers and routes call this).

The Spiris client secret is read from SSM through Powertools parameters (cached by Powertools).
"""

from __future__ import annotations

from .. import wiring
from ..ports import DocumentStore, Mailer
from ..settings import Settings
from .services import ConsentConfig, ConsentServices


def consent_config(settings: Settings) -> ConsentConfig:
    return ConsentConfig(
        public_base_url=settings.public_base_url,
        office_name=getattr(settings, "office_name", None) or "Byrån",
        office_email=settings.office_email,
        invitation_ttl_days=settings.invitation_ttl_days,
        state_ttl_seconds=settings.oauth_state_ttl_seconds,
        reinvite_on_invalid_grant=bool(getattr(settings, "reinvite_on_invalid_grant", True)),
    )


def build_consent_services(
    settings: Settings, client_secret: str, mailer: Mailer | None = None, documents: DocumentStore | None = None
) -> ConsentServices:
    """Everything the consent routes and the token broker need; `mailer`/`documents` default to SES/S3."""
    from ..adapters.dynamo_integrations import DynamoIntegrations, DynamoInvitations, DynamoOAuthStates
    from ..adapters.dynamo_issuers import DynamoIssuers
    from ..adapters.kms_tokens import KmsCipher, KmsOperatorCredentials, KmsTokenStore
    from ..adapters.spiris_identity import HttpSpirisIdentity

    if mailer is None:
        from ..adapters.ses_mailer import SesMailer

        mailer = SesMailer(settings.sender_email)
    if documents is None:
        from ..adapters.s3_documents import S3DocumentStore

        documents = S3DocumentStore(settings.documents_bucket)
    identity = HttpSpirisIdentity(
        identity_url=settings.spiris_identity_url,
        client_id=settings.spiris_client_id,
        client_secret=client_secret,
        scopes=settings.spiris_scopes,
        acr_values=settings.spiris_acr_values,
        api_url=settings.spiris_api_url,
    )
    from ..dispatch.accounts import OperatorAccounts

    credentials = KmsOperatorCredentials(settings.table_name, settings.token_key_id)
    return ConsentServices(
        config=consent_config(settings),
        issuers=DynamoIssuers(settings.table_name),
        integrations=DynamoIntegrations(settings.table_name),
        invitations=DynamoInvitations(settings.table_name),
        states=DynamoOAuthStates(settings.table_name),
        tokens=KmsTokenStore(settings.table_name, settings.token_key_id),
        identity=identity,
        read_company=identity.company_settings,
        mailer=mailer,
        cipher=KmsCipher(settings.token_key_id),
        documents=documents,
        operator_credentials=credentials,
        operator_accounts=OperatorAccounts(
            credentials,
            connect=lambda issuer_id, provider, given: wiring.build_operator(issuer_id, provider, given, settings),
            partner=lambda: wiring.inexchange_partner(settings),
        ),
    )


@wiring._cached
def consent_services() -> ConsentServices:
    """The cached services of this Lambda container (reset by `invoice_bridge.wiring.reset()`)."""
    settings = wiring.get_settings()
    secret = wiring.secret_parameter(settings.spiris_client_secret_parameter)
    return build_consent_services(settings, client_secret=secret)
