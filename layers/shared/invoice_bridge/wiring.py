"""The composition root: getters that build adapters from the settings sections. Handlers call these; domain code receives ports.

Each capability keeps its getters in its own section below.

Caches belong to a Lambda container. In AWS a container is a process, so `container` stays "" and a
cache is simply per process. The embedded stack (sandbox/lambdas.py) runs every function in one
process and names the container per invocation: one function never sees another's cached adapters,
secrets or decrypted credentials, so each reads them with its own role, as in AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from .settings import (
    ConsentBundleSettings,
    ConsoleSettings,
    DispatchSettings,
    MailSettings,
    OfficeSettings,
    OperationsSettings,
    OperatorSettings,
    Resources,
    SpirisSettings,
    clear_sections,
    load_function_settings,
    section,
)

if TYPE_CHECKING:  # the adapters are imported where they are built: no client, no heavy import at cold start

    from .adapters.cognito_console import CognitoConsoleUsers
    from .adapters.dynamo_batch_reads import DynamoBatchReader
    from .adapters.dynamo_console_sessions import DynamoConsoleSessions
    from .adapters.dynamo_deliveries import DynamoDeliveryLedger
    from .adapters.dynamo_integrations import DynamoIntegrations
    from .adapters.dynamo_invoices import DynamoInvoiceRepository
    from .adapters.dynamo_issuers import DynamoIssuers
    from .adapters.dynamo_sync import DynamoDecisionStore
    from .adapters.inexchange import InExchangePartnerApi
    from .adapters.kms_tokens import KmsOperatorCredentials
    from .adapters.s3_documents import S3DocumentStore
    from .adapters.ses_mailer import SesMailer
    from .adapters.spiris_api import HttpSpirisApi
    from .adapters.sqs_queue import SqsVisibility, SqsWorkQueue
    from .consent.services import ConsentConfig, ConsentServices
    from .console.auth import SignInFlow
    from .console.sessions import SessionPolicy
    from .dispatch.notify import FailureNotifier
    from .dispatch.report import ReportSources
    from .dispatch.service import DispatchServices
    from .dispatch.ses_events import SesEventServices
    from .dispatch.track import TrackingServices
    from .fetch.budget import RequestBudget
    from .fetch.decisions import SyncDecision
    from .fetch.sync import SyncServices
    from .models.integration import Integration
    from .models.issuer import Issuer, OfficePayee
    from .ports import DocumentStore, Mailer, Operator
    from .render.service import RenderServices
    from .stuck import SweepServices

container: ContextVar[str] = ContextVar("invoice_bridge_container", default="")

T = TypeVar("T")


def reset() -> None:
    """Forget every cached adapter (tests switch settings and moto backends)."""
    from .adapters.aws import reset_clients

    reset_clients()
    clear_sections()
    for getter in list(_GETTERS.values()):
        getter.cache_clear()
    _operators.clear()
    _spiris_clients.clear()
    _parameter_providers.clear()
    # Powertools parameters keep values and a provider whose client is bound to the endpoint of its day.
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # also drops the default providers (DEFAULT_PROVIDERS)


class _PerContainer(Generic[T]):
    """A getter whose result is built once per container (`functools.cache` per container), unless
    `override` gives it a value."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._built: dict[str, T] = {}
        self.__name__ = build.__name__
        self.__doc__ = build.__doc__

    def __call__(self) -> T:
        if self.__name__ in _overrides:
            return cast(T, _overrides[self.__name__])
        key = container.get()
        if key not in self._built:
            self._built[key] = self._build()
        return self._built[key]

    def cache_clear(self) -> None:
        self._built.clear()


_GETTERS: dict[str, _PerContainer[Any]] = {}
_overrides: dict[str, object] = {}


def _per_container(build: Callable[[], T]) -> _PerContainer[T]:
    getter = _PerContainer(build)
    _GETTERS[build.__name__] = getter
    return getter


@contextmanager
def override(**values: object) -> Iterator[None]:
    """The one hook for tests and the embedded stack: the named getters answer `values` (a double, an
    adapter bound elsewhere) instead of building from Settings, until the block ends."""
    unknown = sorted(set(values) - set(_GETTERS))
    if unknown:
        raise KeyError(f"no wiring getter named {', '.join(unknown)}")
    saved = dict(_overrides)
    _overrides.update(values)
    try:
        yield
    finally:
        _overrides.clear()
        _overrides.update(saved)


_parameter_providers: dict[str, Any] = {}


def secret_parameter(name: str) -> str:
    """An SSM SecureString, read through Powertools and cached for five minutes per container."""
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    from .adapters.aws import parameter_store_client

    provider = _parameter_providers.get(container.get())
    if provider is None:  # its own cache of values per container; the process's one SSM client
        provider = _parameter_providers.setdefault(container.get(), SSMProvider(boto3_client=parameter_store_client()))
    return str(provider.get(name, decrypt=True, max_age=300))


def check_settings(function: str) -> None:
    """A function's cold start (module level of its handler): read all its settings now, so a missing
    one stops it at once, named, not when an invoice is half done (settings.MissingSettings)."""
    load_function_settings(function)


def operations() -> OperationsSettings:
    return section(OperationsSettings)


def office() -> OfficeSettings:
    return section(OfficeSettings)


def spiris_settings() -> SpirisSettings:
    return section(SpirisSettings)


# --- invoices, documents, queues (core) --------------------------------------------------------


@_per_container
def invoice_repository() -> DynamoInvoiceRepository:
    from .adapters.dynamo_invoices import DynamoInvoiceRepository

    return DynamoInvoiceRepository(section(Resources).table_name, document_store())


@_per_container
def batch_reader() -> DynamoBatchReader:
    from .adapters.dynamo_batch_reads import DynamoBatchReader

    return DynamoBatchReader(section(Resources).table_name)


@_per_container
def document_store() -> S3DocumentStore:
    from .adapters.s3_documents import S3DocumentStore

    return S3DocumentStore(section(Resources).documents_bucket)


@_per_container
def sync_queue() -> SqsWorkQueue:
    from .adapters.sqs_queue import SqsWorkQueue

    return SqsWorkQueue(section(Resources).sync_queue_url)


@_per_container
def render_queue() -> SqsWorkQueue:
    from .adapters.sqs_queue import SqsWorkQueue

    return SqsWorkQueue(section(Resources).render_queue_url)


@_per_container
def dispatch_queue() -> SqsWorkQueue:
    from .adapters.sqs_queue import SqsWorkQueue

    return SqsWorkQueue(section(Resources).dispatch_queue_url)


@_per_container
def queue_visibility() -> SqsVisibility:
    from .adapters.sqs_queue import SqsVisibility

    return SqsVisibility()


def retry_backoff_seconds() -> list[int]:
    """The backoff schedule of failed queue messages (read when a record fails, not at import)."""
    return section(OperationsSettings).retry_backoff_seconds


@_per_container
def issuer_repository() -> DynamoIssuers:
    from .adapters.dynamo_issuers import DynamoIssuers

    return DynamoIssuers(section(Resources).table_name)


@_per_container
def integration_repository() -> DynamoIntegrations:
    from .adapters.dynamo_integrations import DynamoIntegrations

    return DynamoIntegrations(section(Resources).table_name)


# --- render --------------------------------------------------------------------------------------


@_per_container
def render_services() -> RenderServices:
    from .render.service import RenderServices

    return RenderServices(
        invoices=invoice_repository(),
        issuers=issuer_repository(),
        documents=document_store(),
        dispatch_queue=dispatch_queue(),
        notifier=failure_notifier(),
        batch_reader=batch_reader(),
    )


# --- dispatch ------------------------------------------------------------------------------------


@_per_container
def delivery_ledger() -> DynamoDeliveryLedger:
    from .adapters.dynamo_deliveries import DynamoDeliveryLedger

    return DynamoDeliveryLedger(section(Resources).table_name)


@_per_container
def mailer() -> SesMailer:
    return ses_mailer(section(MailSettings))


def ses_mailer(settings: MailSettings) -> SesMailer:
    """Every mail, the dispatch's and the consent's, goes out through the configuration set (its events
    report bounces and deliveries)."""
    from .adapters.ses_mailer import SesMailer

    return SesMailer(settings.sender_email, configuration_set=settings.ses_configuration_set)


@_per_container
def failure_notifier() -> FailureNotifier:
    """The notices to issuers of what failed (render, dispatch, tracking, the sweeper)."""
    from .dispatch.notify import FailureNotifier

    return FailureNotifier(mailer())


@_per_container
def operator_credentials() -> KmsOperatorCredentials:
    from .adapters.kms_tokens import KmsOperatorCredentials

    resources = section(Resources)
    return KmsOperatorCredentials(resources.table_name, resources.token_key_id)


def optional_secret_parameter(name: str) -> str | None:
    """`secret_parameter`, or None when the parameter does not exist (a key the office has not stored)."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        return secret_parameter(name)
    except GetParameterError as exc:
        if "ParameterNotFound" not in str(exc):
            raise
        return None


def maventa_vendor_api_key(settings: OperatorSettings | None = None) -> str:
    name = (settings or section(OperatorSettings)).maventa_vendor_api_key_parameter
    key = optional_secret_parameter(name)
    if key is None:
        raise LookupError(f"the Maventa vendor API key is not stored (SSM parameter {name})")
    return key


def inexchange_partner(settings: OperatorSettings | None = None) -> InExchangePartnerApi | None:
    """The office's InExchange partner level, or None when no partner key is stored."""
    from .adapters.inexchange import InExchangePartnerApi

    settings = settings or section(OperatorSettings)
    key = optional_secret_parameter(settings.inexchange_partner_api_key_parameter)
    return InExchangePartnerApi(settings.inexchange_url, key) if key is not None else None


def build_operator(
    issuer_id: str,
    provider: str,
    credentials: dict[str, str],
    settings: OperatorSettings | None = None,
    resources: Resources | None = None,
) -> Operator:
    """The operator adapter for one issuer's stored credentials (no caching)."""
    settings = settings or section(OperatorSettings)
    if provider == "maventa":
        from .adapters.maventa import MaventaCredentials, MaventaOperator

        return MaventaOperator(
            settings.operator_url,
            MaventaCredentials(
                company_uuid=credentials["company_uuid"],
                user_api_key=credentials["api_key"],
                vendor_api_key=maventa_vendor_api_key(settings),
            ),
        )
    if provider == "inexchange":
        from .adapters.inexchange import InExchangeOperator, RenewingClientToken
        from .adapters.kms_tokens import KmsOperatorCredentials

        # A refused client token is renewed from the partner key and stored encrypted again.
        resources = resources or section(Resources)
        store = KmsOperatorCredentials(resources.table_name, resources.token_key_id)
        tokens = RenewingClientToken(
            issuer_id, credentials["client_token"], store, lambda: inexchange_partner(settings)
        )
        return InExchangeOperator(settings.inexchange_url, tokens)
    raise ValueError(f"unknown operator provider {provider!r}")


_OPERATOR_CACHE_SECONDS = 300
_operators: dict[tuple[str, str], tuple[float, Operator | None]] = {}  # (container, issuer id) → (cached at, adapter)


def operator_for(issuer: Issuer) -> Operator | None:
    """The issuer's operator adapter, or None when it has no operator account.

    Kept per container for a few minutes: one adapter per issuer reuses its token and TLS session,
    and changed credentials take effect within `_OPERATOR_CACHE_SECONDS`.
    """
    import time

    cached = _operators.get((container.get(), issuer.id))
    if cached and time.monotonic() - cached[0] < _OPERATOR_CACHE_SECONDS:
        return cached[1]
    stored = operator_credentials().load(issuer.id)
    operator = build_operator(issuer.id, *stored) if stored is not None else None
    _operators[(container.get(), issuer.id)] = (time.monotonic(), operator)
    return operator


# --- fetch ---------------------------------------------------------------------------------------


@_per_container
def decision_store() -> DynamoDecisionStore:
    from .adapters.dynamo_sync import DynamoDecisionStore

    return DynamoDecisionStore(section(Resources).table_name)


@_per_container
def sync_services() -> SyncServices:
    """The sync capability's bundle: each sync reads Spiris through `sync_spiris`; a parked invoice is told
    to its issuer by mail."""
    from .fetch.sync import SyncServices

    return SyncServices(
        integrations=integration_repository(),
        issuers=issuer_repository(),
        invoices=invoice_repository(),
        decisions=decision_store(),
        spiris_for=sync_spiris,
        render_queue=render_queue(),
        documents=document_store(),
        office=office_payee(),
        notify_parked=notify_parked,
        batch_reader=batch_reader(),
    )


def notify_parked(issuer: Issuer, parked: SyncDecision) -> None:
    """Tell an issuer of a parked source invoice by mail (the sync as it parks it, the sweeper after)."""
    from .alerts import notify_invoice_parked

    notify_invoice_parked(issuer, parked, mailer=mailer(), office_name=office().office_name)


def office_payee() -> OfficePayee:
    """The office's payment details (printed instead of the issuer's when the office is payee)."""
    from .models.issuer import OfficePayee

    settings = section(OfficeSettings)
    return OfficePayee(
        name=settings.office_name,
        org_number=settings.office_org_number,
        bankgiro=settings.office_bankgiro,
        ocr_length_digit=settings.office_ocr_length_digit,
    )


def sync_spiris(integration: Integration) -> HttpSpirisApi:
    """The Spiris API of one integration for one sync: its access tokens read through the token broker
    (renewed on a 401), every request inside the shared request budget, files only from the allowed
    origins. Built per sync (no caching)."""
    from .adapters.dynamo_budget import dynamo_request_budget
    from .adapters.spiris_api import HttpSpirisApi
    from .consent.refresher import AccessTokens

    settings = section(SpirisSettings)
    budget = dynamo_request_budget(
        section(Resources).table_name, settings.spiris_requests_per_minute, window_seconds=settings.spiris_budget_window_seconds
    )
    access_tokens = AccessTokens(integration, consent_services)
    return HttpSpirisApi(
        settings.spiris_api_url,
        access_tokens,
        renew_access_token=access_tokens.renew,
        before_request=budget.before_request,
        expect_requests=budget.expect,
        page_size=settings.spiris_page_size,
        file_origins=tuple(o.strip() for o in settings.spiris_file_origins.split(",") if o.strip()),
        max_file_bytes=settings.spiris_file_max_bytes,
    )


# Dispatch's fresh look reads one invoice at a time: one attempt (the queue's backoff is the retry), a
# short timeout and a short wait for the budget, so a slow Spiris cannot eat a batch's 120 seconds.
_SPIRIS_CACHE_SECONDS = 300
_spiris_clients: dict[tuple[str, str], tuple[float, HttpSpirisApi]] = {}  # (container, integration id) → (at, client)


def spiris_for(integration: Integration) -> HttpSpirisApi:
    """The Spiris API of one integration for dispatch's fresh look, inside the shared request budget.

    Kept per container for a few minutes, as the operator adapters are: its access token (read through
    the token broker, refreshed by it alone) and TLS session serve the next invoices of the integration."""
    import time

    key = (container.get(), integration.id)
    cached = _spiris_clients.get(key)
    if cached and time.monotonic() - cached[0] < _SPIRIS_CACHE_SECONDS:
        return cached[1]
    from .adapters.spiris_api import HttpSpirisApi
    from .consent.refresher import AccessTokens

    settings = section(SpirisSettings)
    budget = look_budget()
    client = HttpSpirisApi(
        settings.spiris_api_url, AccessTokens(integration, consent_services), before_request=budget.before_request,
        expect_requests=budget.expect, max_attempts=1, timeout_seconds=10,
    )
    _spiris_clients[key] = (time.monotonic(), client)
    return client


@_per_container
def look_budget() -> RequestBudget:
    """The request budget of dispatch's fresh looks, one per container for every integration's client:
    Spiris counts per endpoint, so a block of slots taken for one batch serves whichever integration looks."""
    from .adapters.dynamo_budget import dynamo_request_budget

    settings = section(SpirisSettings)
    return dynamo_request_budget(
        section(Resources).table_name, settings.spiris_requests_per_minute,
        window_seconds=settings.spiris_budget_window_seconds, max_wait_seconds=10,
    )


@_per_container
def dispatch_services() -> DispatchServices:
    """The dispatch capability's bundle; its fresh look reads Spiris through `spiris_for`."""
    from datetime import timedelta

    from .dispatch.fresh_look import SpirisSourceCheck
    from .dispatch.service import DispatchServices

    return DispatchServices(
        invoices=invoice_repository(),
        issuers=issuer_repository(),
        ledger=delivery_ledger(),
        documents=document_store(),
        operator_for=operator_for,
        mailer=mailer(),
        fresh_look=SpirisSourceCheck(integration_repository(), spiris_for, office=office_payee()),
        render_queue=render_queue(),
        sending_lease=timedelta(seconds=section(DispatchSettings).dispatch_lease_seconds),
        batch_reader=batch_reader(),
    )


@_per_container
def tracking_services() -> TrackingServices:
    """The status poller's bundle: it asks each issuer's operator, and reroutes through the dispatch queue."""
    from .dispatch.track import TrackingServices

    return TrackingServices(
        invoices=invoice_repository(),
        issuers=issuer_repository(),
        ledger=delivery_ledger(),
        operator_for=operator_for,
        notifier=failure_notifier(),
        dispatch_queue=dispatch_queue(),
        batch_reader=batch_reader(),
    )


@_per_container
def ses_event_services() -> SesEventServices:
    from .dispatch.ses_events import SesEventServices

    return SesEventServices(
        invoices=invoice_repository(), issuers=issuer_repository(), ledger=delivery_ledger(), notifier=failure_notifier()
    )


@_per_container
def sweep_services() -> SweepServices:
    from .stuck import SweepServices

    return SweepServices(
        invoices=invoice_repository(),
        issuers=issuer_repository(),
        ledger=delivery_ledger(),
        render_queue=render_queue(),
        dispatch_queue=dispatch_queue(),
        notifier=failure_notifier(),
    )


# --- consent ---------------------------------------------------------------------------------------


def consent_config(settings: ConsentBundleSettings) -> ConsentConfig:
    from .consent.services import ConsentConfig

    return ConsentConfig(
        public_base_url=settings.public_base_url,
        office_name=settings.office_name,
        office_email=settings.office_email,
        invitation_ttl_days=settings.invitation_ttl_days,
        state_ttl_seconds=settings.oauth_state_ttl_seconds,
    )


def build_consent_services(
    settings: ConsentBundleSettings,
    client_secret: str,
    *,
    mailer: Mailer | None = None,
    documents: DocumentStore | None = None,
) -> ConsentServices:
    """Everything the consent routes, the admin API and the token broker need, from `settings`;
    `mailer`/`documents` default to SES (through the configuration set) and S3."""
    from .adapters.dynamo_integrations import DynamoIntegrations, DynamoInvitations, DynamoOAuthStates
    from .adapters.dynamo_issuers import DynamoIssuers
    from .adapters.kms_tokens import KmsCipher, KmsOperatorCredentials, KmsTokenStore
    from .adapters.s3_documents import S3DocumentStore
    from .adapters.spiris_identity import HttpSpirisIdentity
    from .consent.services import ConsentServices
    from .dispatch.accounts import OperatorAccounts

    identity = HttpSpirisIdentity(
        identity_url=settings.spiris_identity_url,
        client_id=settings.spiris_client_id,
        client_secret=client_secret,
        scopes=settings.spiris_scopes,
        acr_values=settings.spiris_acr_values,
        api_url=settings.spiris_api_url,
    )
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
        mailer=mailer if mailer is not None else ses_mailer(settings),
        cipher=KmsCipher(settings.token_key_id),
        documents=documents if documents is not None else S3DocumentStore(settings.documents_bucket),
        operator_credentials=credentials,
        operator_accounts=OperatorAccounts(
            credentials,
            connect=lambda issuer_id, provider, given: build_operator(issuer_id, provider, given, settings, settings),
            partner=lambda: inexchange_partner(settings),
        ),
    )


@_per_container
def consent_services() -> ConsentServices:
    """The consent capability's bundle (the Spiris client secret read from SSM through Powertools)."""
    settings = section(ConsentBundleSettings)
    return build_consent_services(settings, secret_parameter(settings.spiris_client_secret_parameter))


# --- reports ---------------------------------------------------------------------------------------


@_per_container
def report_sources() -> ReportSources:
    """What the dispatch report reads (the admin API's report route and the console's reports page)."""
    from .dispatch.report import ReportSources

    return ReportSources(invoices=invoice_repository(), ledger=delivery_ledger())


# --- console ---------------------------------------------------------------------------------------


@_per_container
def console_sessions() -> DynamoConsoleSessions:
    from .adapters.dynamo_console_sessions import DynamoConsoleSessions

    return DynamoConsoleSessions(section(Resources).table_name)


def _console_pool() -> tuple[str, str]:
    settings = section(ConsoleSettings)
    return settings.console_user_pool_id, settings.console_client_id


@_per_container
def console_users() -> CognitoConsoleUsers:
    """The user pool: sign-in (IdentityProvider) and users' standing (UserDirectory)."""
    from .adapters.cognito_console import CognitoConsoleUsers

    return CognitoConsoleUsers(*_console_pool())


@_per_container
def console_sign_in() -> SignInFlow:
    from .console.auth import SignInFlow, TokenVerifier

    pool_id, client_id = _console_pool()
    region = pool_id.split("_", 1)[0]
    issuer = f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"
    jwks_url = section(ConsoleSettings).console_jwks_url or f"{issuer}/.well-known/jwks.json"
    return SignInFlow(console_users(), TokenVerifier(issuer, client_id, jwks_url))


def console_session_policy() -> SessionPolicy:
    from datetime import timedelta

    from .console.sessions import SessionPolicy

    settings = section(ConsoleSettings)
    return SessionPolicy(
        lifetime=timedelta(hours=settings.console_session_hours),
        idle=timedelta(minutes=settings.console_idle_minutes),
        recheck=timedelta(minutes=settings.console_recheck_minutes),
    )
