"""Cached getters that build adapters from Settings. Handlers call these; domain code receives ports.

Each capability keeps its getters in its own section below.

Caches belong to a Lambda container. In AWS a container is a process, so `container` stays "" and a
cache is simply per process. The embedded stack (sandbox/lambdas.py) runs every function in one
process and names the container per invocation: one function never sees another's cached adapters,
secrets or decrypted credentials, so each reads them with its own role, as in AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from functools import update_wrapper
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .settings import Settings, get_settings

if TYPE_CHECKING:  # annotations only: a getter imports its adapter when first called
    from .adapters.cognito_console import CognitoConsoleUsers
    from .backoff import QueueVisibility
    from .console.auth import SignInFlow
    from .console.sessions import SessionPolicy, SessionStore
    from .dispatch.ses_events import MessageLedger
    from .fetch.decisions import DecisionStore
    from .models.integration import Integration
    from .models.issuer import Issuer
    from .ports import (
        DocumentStore,
        InExchangePartner,
        IntegrationRepository,
        InvoiceRepository,
        IssuerRepository,
        Mailer,
        Operator,
        OperatorCredentialStore,
        SpirisApi,
        WorkQueue,
    )

__all__ = ["Settings", "get_settings"]  # re-exported: callers read settings through the wiring

T = TypeVar("T")

container: ContextVar[str] = ContextVar("invoice_bridge_container", default="")


def reset() -> None:
    """Forget every cached adapter (tests switch settings and moto backends)."""
    from .adapters.aws import reset_clients

    reset_clients()
    get_settings.cache_clear()
    for getter in list(_GETTERS):
        getter.cache_clear()
    _operators.clear()
    _spiris_clients.clear()
    _parameter_providers.clear()
    # Powertools parameters keep values and a provider whose client is bound to the endpoint of its day.
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # also drops the default providers (DEFAULT_PROVIDERS)


class _PerContainer(Generic[T]):
    """A getter whose result is built once per container (`functools.cache` per container)."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._built: dict[str, T] = {}
        update_wrapper(self, build)

    def __call__(self) -> T:
        key = container.get()
        if key not in self._built:
            self._built[key] = self._build()
        return self._built[key]

    def cache_clear(self) -> None:
        self._built.clear()


_GETTERS: list[_PerContainer[Any]] = []


def _cached(build: Callable[[], T]) -> _PerContainer[T]:
    getter = _PerContainer(build)
    _GETTERS.append(getter)
    return getter


_parameter_providers: dict[str, Any] = {}


def secret_parameter(name: str) -> str:
    """An SSM SecureString, read through Powertools and cached for five minutes per container."""
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    provider = _parameter_providers.get(container.get())
    if provider is None:
        provider = _parameter_providers.setdefault(container.get(), SSMProvider())
    return str(provider.get(name, decrypt=True, max_age=300))


# --- invoices, documents, queues (core) --------------------------------------------------------


@_cached
def invoice_repository() -> InvoiceRepository:
    from .adapters.dynamo_invoices import DynamoInvoiceRepository

    return DynamoInvoiceRepository(get_settings().table_name, document_store())


@_cached
def document_store() -> DocumentStore:
    from .adapters.s3_documents import S3DocumentStore

    return S3DocumentStore(get_settings().documents_bucket)


@_cached
def sync_queue() -> WorkQueue:
    from .adapters.sqs_queue import SqsWorkQueue

    return SqsWorkQueue(get_settings().sync_queue_url)


@_cached
def render_queue() -> WorkQueue:
    from .adapters.sqs_queue import SqsWorkQueue

    return SqsWorkQueue(get_settings().render_queue_url)


@_cached
def dispatch_queue() -> WorkQueue:
    from .adapters.sqs_queue import SqsWorkQueue

    return SqsWorkQueue(get_settings().dispatch_queue_url)


@_cached
def queue_visibility() -> QueueVisibility:
    from .adapters.sqs_queue import SqsVisibility

    return SqsVisibility()


def retry_backoff_seconds() -> list[int]:
    """The backoff schedule of failed queue messages (read when a record fails, not at import)."""
    return get_settings().retry_backoff_seconds


@_cached
def issuer_repository() -> IssuerRepository:
    from .adapters.dynamo_issuers import DynamoIssuers

    return DynamoIssuers(get_settings().table_name)


@_cached
def integration_repository() -> IntegrationRepository:
    from .adapters.dynamo_integrations import DynamoIntegrations

    return DynamoIntegrations(get_settings().table_name)


# --- dispatch ------------------------------------------------------------------------------------


@_cached
def delivery_ledger() -> MessageLedger:
    from .adapters.dynamo_deliveries import DynamoDeliveryLedger

    return DynamoDeliveryLedger(get_settings().table_name)


@_cached
def mailer() -> Mailer:
    from .adapters.ses_mailer import SesMailer

    settings = get_settings()
    return SesMailer(settings.sender_email, configuration_set=settings.ses_configuration_set)


@_cached
def operator_credentials() -> OperatorCredentialStore:
    from .adapters.kms_tokens import KmsOperatorCredentials

    settings = get_settings()
    return KmsOperatorCredentials(settings.table_name, settings.token_key_id)


def optional_secret_parameter(name: str) -> str | None:
    """`secret_parameter`, or None when the parameter does not exist (a key the office has not stored)."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        return secret_parameter(name)
    except GetParameterError as exc:
        if "ParameterNotFound" not in str(exc):
            raise
        return None


def maventa_vendor_api_key(settings: Settings | None = None) -> str:
    name = (settings or get_settings()).maventa_vendor_api_key_parameter
    key = optional_secret_parameter(name)
    if key is None:
        raise LookupError(f"the Maventa vendor API key is not stored (SSM parameter {name})")
    return key


def inexchange_partner(settings: Settings | None = None) -> InExchangePartner | None:
    """The office's InExchange partner level, or None when no partner key is stored."""
    from .adapters.inexchange import InExchangePartnerApi

    settings = settings or get_settings()
    key = optional_secret_parameter(settings.inexchange_partner_api_key_parameter)
    return InExchangePartnerApi(settings.inexchange_url, key) if key is not None else None


def build_operator(
    issuer_id: str, provider: str, credentials: dict[str, str], settings: Settings | None = None
) -> Operator:
    """The operator adapter for one issuer's stored credentials (no caching)."""
    settings = settings or get_settings()
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
        store = KmsOperatorCredentials(settings.table_name, settings.token_key_id)
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


@_cached
def decision_store() -> DecisionStore:
    from .adapters.dynamo_sync import DynamoDecisionStore

    return DynamoDecisionStore(get_settings().table_name)


# Dispatch's fresh look reads one invoice at a time: one attempt (the queue's backoff is the retry), a
# short timeout and a short wait for the budget, so a slow Spiris cannot eat a batch's 120 seconds.
_SPIRIS_CACHE_SECONDS = 300
_spiris_clients: dict[tuple[str, str], tuple[float, SpirisApi]] = {}  # (container, integration id) → (at, client)


def spiris_for(integration: Integration) -> SpirisApi:
    """The Spiris API of one integration for dispatch's fresh look, inside the shared request budget.

    Kept per container for a few minutes, as the operator adapters are: its access token (read through
    the token broker, refreshed by it alone) and TLS session serve the next invoices of the integration."""
    import time

    key = (container.get(), integration.id)
    cached = _spiris_clients.get(key)
    if cached and time.monotonic() - cached[0] < _SPIRIS_CACHE_SECONDS:
        return cached[1]
    from .adapters.dynamo_budget import dynamo_request_budget
    from .adapters.spiris_api import HttpSpirisApi
    from .consent.refresher import AccessTokens

    settings = get_settings()
    budget = dynamo_request_budget(
        settings.table_name, settings.spiris_requests_per_minute,
        window_seconds=settings.spiris_budget_window_seconds, max_wait_seconds=10,
    )
    client = HttpSpirisApi(
        settings.spiris_api_url, AccessTokens(integration), before_request=budget.before_request,
        max_attempts=1, timeout_seconds=10,
    )
    _spiris_clients[key] = (time.monotonic(), client)
    return client


# --- console ---------------------------------------------------------------------------------------


@_cached
def console_sessions() -> SessionStore:
    from .adapters.dynamo_console_sessions import DynamoConsoleSessions

    return DynamoConsoleSessions(get_settings().table_name)


def _console_pool() -> tuple[str, str]:
    settings = get_settings()
    if not settings.console_user_pool_id or not settings.console_client_id:
        raise RuntimeError("CONSOLE_USER_POOL_ID and CONSOLE_CLIENT_ID are not set")
    return settings.console_user_pool_id, settings.console_client_id


@_cached
def console_users() -> CognitoConsoleUsers:
    """The user pool: sign-in (IdentityProvider) and users' standing (UserDirectory)."""
    from .adapters.cognito_console import CognitoConsoleUsers

    return CognitoConsoleUsers(*_console_pool())


@_cached
def console_sign_in() -> SignInFlow:
    from .console.auth import SignInFlow, TokenVerifier

    pool_id, client_id = _console_pool()
    region = pool_id.split("_", 1)[0]
    issuer = f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"
    jwks_url = get_settings().console_jwks_url or f"{issuer}/.well-known/jwks.json"
    return SignInFlow(console_users(), TokenVerifier(issuer, client_id, jwks_url))


def console_session_policy() -> SessionPolicy:
    from datetime import timedelta

    from .console.sessions import SessionPolicy

    settings = get_settings()
    return SessionPolicy(
        lifetime=timedelta(hours=settings.console_session_hours),
        idle=timedelta(minutes=settings.console_idle_minutes),
        recheck=timedelta(minutes=settings.console_recheck_minutes),
    )
