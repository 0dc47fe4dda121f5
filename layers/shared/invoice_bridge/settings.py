"""Runtime configuration, read once from the environment (the template's `Environment` block).

Logic never reads `os.environ`: handlers call `get_settings()` and pass what is needed on.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # AWS resources (names/URLs come from the template's Refs; locally from sandbox.aws).
    table_name: str = "InvoiceBridgeTable"
    idempotency_table_name: str = "IdempotencyTable"
    documents_bucket: str = "invoice-bridge-documents"
    token_key_id: str = "alias/invoice-bridge-tokens"
    sync_queue_url: str = ""
    render_queue_url: str = ""
    dispatch_queue_url: str = ""
    aws_region: str = Field(default="eu-north-1", validation_alias="AWS_REGION")

    # Public face: the base URL that consent links and the OAuth redirect are built on.
    public_base_url: str = "http://127.0.0.1:8080"

    # Spiris (Visma eAccounting) identity server and API.
    spiris_identity_url: str = "https://identity.vismaonline.com"
    spiris_api_url: str = "https://eaccountingapi.vismaonline.com"
    spiris_client_id: str = "invoice-bridge"
    # Name of the SSM SecureString that holds the client secret (read through Powertools parameters).
    spiris_client_secret_parameter: str = "/invoice-bridge/spiris-client-secret"
    spiris_scopes: str = "ea:api offline_access ea:sales_readonly"
    spiris_acr_values: str = "service:44643EB1-3F76-4C1C-A672-402AE8085934"
    spiris_requests_per_minute: int = 600
    # 60: counted per calendar minute (full rate); 10 (or any divisor of 60): safe if Spiris counts any
    # 60 seconds, at a lower rate (fetch/budget.py). Spiris does not document which it is.
    spiris_budget_window_seconds: int = Field(default=60, ge=1, le=60)

    # E-invoice operator (Maventa-compatible AX API).
    operator_url: str = "https://ax.maventa.com"
    maventa_vendor_api_key_parameter: str = "/invoice-bridge/maventa-vendor-api-key"

    # E-mail.
    sender_email: str = "invoices@example.com"
    office_email: str = "office@example.com"
    # SES configuration set every mail is sent through (its events report bounces and deliveries).
    ses_configuration_set: str | None = None

    # The office: its name on pages and mails, and its payment details when it is the payee.
    office_name: str = "Keeros Finans AB"
    office_org_number: str = "5569981235"
    office_bankgiro: str = "5050-1055"
    office_ocr_length_digit: bool = True

    # An integration with no successful sync for this long shows in GET /failures and raises an alarm.
    stale_sync_hours: int = 6

    # Consent.
    invitation_ttl_days: int = 14
    oauth_state_ttl_seconds: int = 600

    # The office's console (functions/console): Cognito user pool and app client it signs in against.
    console_user_pool_id: str | None = None
    console_client_id: str | None = None
    # Where the pool publishes its signing keys; None: Cognito's own URL for the pool.
    console_jwks_url: str | None = None
    # A console session ends this long after sign-in, or after this long unused; the user's standing
    # in the pool (enabled, groups) is read again at most this often.
    console_session_hours: int = Field(default=10, ge=1, le=24)
    console_idle_minutes: int = Field(default=60, ge=5, le=24 * 60)
    console_recheck_minutes: int = Field(default=5, ge=1, le=60)

    # Local embedded stack only: bearer token that stands in for IAM on the admin API.
    admin_token: str | None = None

    # Where Spiris' temporary file URLs (the invoice PDF) may be fetched from: comma-separated
    # `scheme://host[:port]`, `*.` for any subdomain. The embedded stack adds its Spiris sandbox.
    spiris_file_origins: str = "https://*.vismaonline.com"
    spiris_file_max_bytes: int = 20 * 1024 * 1024

    # Spiris paging.
    spiris_page_size: int = 100
    sync_overlap_seconds: int = 300

    # A failed queue message comes back after these many seconds: the first for its first failure, the
    # last for every failure after the schedule (invoice_bridge/backoff.py). JSON list in the environment.
    retry_backoff_seconds: list[int] = Field(default=[30, 120, 300], min_length=1)

    # The sweeper (stuck.py): an invoice that has waited this long in queued / rendered / sending is
    # handed on again; after `stuck_give_up_hours` it is failed with a notice.
    stuck_after_minutes: int = Field(default=15, ge=1)
    stuck_give_up_hours: int = Field(default=24, ge=1)


@lru_cache
def get_settings() -> Settings:
    return Settings()
