"""Runtime configuration, read from the environment (the template's `Environment` blocks).

Logic never reads `os.environ`: only `invoice_bridge.wiring` reads settings, and passes on what is needed.

Settings come in sections (one concern each); a function's settings are the sections it uses
(`FUNCTION_SETTINGS`, keyed by the template's logical id). A value the stack must give has no default:
a function whose environment lacks one fails at its cold start (`load_function_settings`), naming it,
instead of printing an example payee on an invoice. Defaults remain only where they are the real
services' values (the Spiris and operator URLs) or tuning.

Cold start: a section's validator is built only when it is first read (`defer_build`), and a function's
settings class is built from its sections only when asked for (`FUNCTION_SETTINGS`): a cold start builds
the one class of its own settings, validates it once, and reads its sections from that object.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping
from functools import cache
from typing import TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from .identifiers import InvalidIdentifier, normalize_bankgiro, normalize_org_number

_Required = Field(min_length=1)


class _FromEnvironment(BaseSettings):
    """A section: each field from the environment variable of its name (or alias), any case; a list or
    mapping field's variable holds JSON (`RETRY_BACKOFF_SECONDS=[30,60]`)."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore", defer_build=True)


class Resources(_FromEnvironment):
    """The stack's own resources (Refs in the template's Globals; locally from sandbox.aws)."""

    table_name: str = _Required
    documents_bucket: str = _Required
    token_key_id: str = _Required
    sync_queue_url: str = _Required
    render_queue_url: str = _Required
    dispatch_queue_url: str = _Required
    aws_region: str = Field(default="eu-north-1", validation_alias="AWS_REGION")


class SpirisSettings(_FromEnvironment):
    """Spiris (Visma eAccounting): its identity server and API, our OAuth client, the request budget."""

    spiris_identity_url: str = "https://identity.vismaonline.com"
    spiris_api_url: str = "https://eaccountingapi.vismaonline.com"
    spiris_client_id: str = _Required
    # Name of the SSM SecureString that holds the client secret (read through Powertools parameters).
    spiris_client_secret_parameter: str = _Required
    spiris_scopes: str = "ea:api offline_access ea:sales_readonly"
    spiris_acr_values: str = "service:44643EB1-3F76-4C1C-A672-402AE8085934"
    spiris_requests_per_minute: int = 600
    # 60: counted per calendar minute (full rate); 10 (or any divisor of 60): safe if Spiris counts any
    # 60 seconds, at a lower rate (fetch/budget.py). Spiris does not document which it is.
    spiris_budget_window_seconds: int = Field(default=60, ge=1, le=60)
    # Where Spiris' temporary file URLs (the invoice PDF) may be fetched from: comma-separated
    # `scheme://host[:port]`, `*.` for any subdomain. The embedded stack adds its Spiris sandbox.
    spiris_file_origins: str = "https://*.vismaonline.com"
    spiris_file_max_bytes: int = 20 * 1024 * 1024
    spiris_page_size: int = 100
    sync_overlap_seconds: int = 300


class OperatorSettings(_FromEnvironment):
    """E-invoice operators: Maventa (AX API) and InExchange, with the SSM names of the office's keys."""

    operator_url: str = "https://ax.maventa.com"
    maventa_vendor_api_key_parameter: str = _Required
    # The office's InExchange partner API key, from which each issuer's client token is created (and
    # renewed when refused).
    inexchange_url: str = "https://api.inexchange.com"
    inexchange_partner_api_key_parameter: str = _Required


class MailSettings(_FromEnvironment):
    sender_email: str = _Required
    # SES configuration set every mail is sent through (its events report bounces and deliveries).
    ses_configuration_set: str | None = None


class OfficeSettings(_FromEnvironment):
    """The office: its name and address on pages and mails, its payment details when it is the payee,
    and the public base URL that consent links and the OAuth redirect are built on."""

    office_name: str = _Required
    office_org_number: str = _Required
    office_bankgiro: str = _Required
    office_email: str = _Required
    office_ocr_length_digit: bool = True
    public_base_url: str = _Required

    @field_validator("office_org_number")
    @classmethod
    def _org_number(cls, value: str) -> str:
        try:
            return normalize_org_number(value)
        except InvalidIdentifier as exc:
            raise ValueError(str(exc)) from None

    @field_validator("office_bankgiro")
    @classmethod
    def _bankgiro(cls, value: str) -> str:
        try:
            normalize_bankgiro(value)
        except InvalidIdentifier as exc:
            raise ValueError(str(exc)) from None
        return value


class ConsentSettings(_FromEnvironment):
    invitation_ttl_days: int = 14
    oauth_state_ttl_seconds: int = 600


class ConsoleSettings(_FromEnvironment):
    """The office's console (functions/console): the Cognito user pool and app client it signs in against."""

    console_user_pool_id: str = _Required
    console_client_id: str = _Required
    # Where the pool publishes its signing keys; None: Cognito's own URL for the pool.
    console_jwks_url: str | None = None
    # A console session ends this long after sign-in, or after this long unused; the user's standing
    # in the pool (enabled, groups) is read again at most this often.
    console_session_hours: int = Field(default=10, ge=1, le=24)
    console_idle_minutes: int = Field(default=60, ge=5, le=24 * 60)
    console_recheck_minutes: int = Field(default=5, ge=1, le=60)


class DispatchSettings(_FromEnvironment):
    """The dispatch's delivery lease (dispatch/service.py): how long the intent of a run that is sending
    keeps every other run from reconciling it. At least the DispatchFunction's Timeout (template.yaml), so
    the run that wrote it is dead when it runs out; no default, the template sets it next to the Timeout."""

    dispatch_lease_seconds: int = Field(ge=1)


class OperationsSettings(_FromEnvironment):
    """Tuning every function may read (all with defaults)."""

    # An integration with no successful sync for this long shows in GET /failures and raises an alarm.
    stale_sync_hours: int = 6
    # A failed queue message comes back after these many seconds: the first for its first failure, the
    # last for every failure after the schedule (invoice_bridge/backoff.py). JSON list in the environment.
    retry_backoff_seconds: list[int] = Field(default=[30, 120, 300], min_length=1)
    # The sweeper (stuck.py): an invoice that has waited this long in queued / rendered / sending is
    # handed on again; after `stuck_give_up_hours` it is failed with a notice.
    stuck_after_minutes: int = Field(default=15, ge=1)
    stuck_give_up_hours: int = Field(default=24, ge=1)
    # Local embedded stack only: bearer token that stands in for IAM on the admin API.
    admin_token: str | None = None


class ConsentBundleSettings(
    Resources, SpirisSettings, OperatorSettings, MailSettings, OfficeSettings, ConsentSettings
):
    """What the consent capability's bundle (`wiring.consent_services`) is built from: every function
    that reads a Spiris token or sets up an operator account needs all of it."""


# --- per function (the template's logical ids) ---------------------------------------------------

# The sections each function reads. Its settings class is built from them when first asked for
# (`FUNCTION_SETTINGS[name]`): a class gathering sections copies all their fields, so a cold start
# builds its own one, not all ten.
FUNCTION_SECTIONS: dict[str, tuple[type[_FromEnvironment], ...]] = {
    "ConsentFunction": (ConsentBundleSettings, OperationsSettings),
    "AdminApiFunction": (ConsentBundleSettings, OperationsSettings),
    "ConsoleFunction": (ConsentBundleSettings, ConsoleSettings, OperationsSettings),
    "PollInvoicesFunction": (Resources, OperationsSettings),
    "SyncIntegrationFunction": (ConsentBundleSettings, OperationsSettings),
    "RenderFunction": (Resources, MailSettings, OperationsSettings),
    "DispatchFunction": (ConsentBundleSettings, DispatchSettings, OperationsSettings),
    "TrackDeliveriesFunction": (Resources, OperatorSettings, MailSettings, OperationsSettings),
    "SesEventsFunction": (Resources, MailSettings, OperationsSettings),
    "SweepStuckFunction": (Resources, MailSettings, OfficeSettings, OperationsSettings),
}


@cache
def _function_settings(function: str) -> type[_FromEnvironment]:
    built = types.new_class(f"{function}Settings", FUNCTION_SECTIONS[function])
    built.__module__ = __name__
    return built


class _FunctionSettings(Mapping[str, type[_FromEnvironment]]):
    """Each function's settings class by logical id, built on first access."""

    def __getitem__(self, function: str) -> type[_FromEnvironment]:
        if function not in FUNCTION_SECTIONS:
            raise KeyError(function)
        return _function_settings(function)

    def __iter__(self) -> Iterator[str]:
        return iter(FUNCTION_SECTIONS)

    def __len__(self) -> int:
        return len(FUNCTION_SECTIONS)


FUNCTION_SETTINGS: Mapping[str, type[_FromEnvironment]] = _FunctionSettings()


class MissingSettings(RuntimeError):
    """A function's environment lacks a setting it needs (or holds a bad one): raised at its cold start."""


def required_variables(settings: type[BaseModel]) -> set[str]:
    """The environment variables `settings` cannot do without (its fields that have no default)."""
    return {
        (field.validation_alias if isinstance(field.validation_alias, str) else name).upper()
        for name, field in settings.model_fields.items()
        if field.is_required()
    }


def load_function_settings(function: str) -> _FromEnvironment:
    """Read and check a function's settings at its cold start: MissingSettings names what is wrong."""
    loaded = _read[FUNCTION_SETTINGS[function]] = _load(FUNCTION_SETTINGS[function], function)
    return loaded


S = TypeVar("S", bound=_FromEnvironment)

# The settings read so far, by class. A function's settings class inherits its sections, so once its
# cold start has read them (`load_function_settings`), each section is that same object: one validation.
_read: dict[type[_FromEnvironment], _FromEnvironment] = {}


def section(kind: type[S]) -> S:
    """One section of the settings, read once (cleared by `invoice_bridge.wiring.reset()`)."""
    loaded = _read.get(kind)
    if loaded is None:
        loaded = next((read for read in _read.values() if isinstance(read, kind)), None)
    if loaded is None:
        loaded = _read[kind] = _load(kind, kind.__name__)
    assert isinstance(loaded, kind)  # read from `kind` or a class built on it: this gives it its type back
    return loaded


def clear_sections() -> None:
    """Forget the sections read (tests switch settings between runs)."""
    _read.clear()


def _load(kind: type[S], owner: str) -> S:
    try:
        return kind()
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']).upper()} ({error['msg']})" for error in exc.errors()
        ]
        raise MissingSettings(f"{owner}: settings missing or invalid: {', '.join(problems)}") from None
    except SettingsError as exc:  # a value pydantic-settings could not decode (not JSON): it names the field
        raise MissingSettings(f"{owner}: settings missing or invalid: {exc}") from None
