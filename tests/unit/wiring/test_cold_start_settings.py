"""A function whose environment lacks a setting it needs stops at its cold start, naming the setting
(the settings have no example defaults: a deployed stack never prints a made-up payee)."""

from __future__ import annotations

import pytest
from invoice_bridge.settings import MissingSettings
from lambda_functions import cold_start


@pytest.mark.parametrize(
    ("function_dir", "variable"),
    [
        ("dispatch", "OFFICE_BANKGIRO"),
        ("sync_integration", "PUBLIC_BASE_URL"),
        ("oauth_callback", "OFFICE_NAME"),
        ("render", "SENDER_EMAIL"),
        ("console", "CONSOLE_USER_POOL_ID"),
        ("poll_invoices", "TABLE_NAME"),
    ],
)
def test_a_missing_setting_stops_the_cold_start_and_is_named(
    function_dir: str, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSOLE_USER_POOL_ID", "eu-north-1_pool")
    monkeypatch.setenv("CONSOLE_CLIENT_ID", "client")
    monkeypatch.delenv(variable)

    with pytest.raises(MissingSettings, match=variable):
        cold_start(function_dir)


def test_a_bad_office_org_number_stops_the_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFICE_ORG_NUMBER", "556998-1234")  # check digit wrong

    with pytest.raises(MissingSettings, match="OFFICE_ORG_NUMBER"):
        cold_start("dispatch")


def test_a_complete_environment_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    assert callable(cold_start("dispatch").lambda_handler)


def test_the_sections_are_read_from_the_settings_checked_at_the_cold_start() -> None:
    """One validation per cold start: the function's settings class is built on its sections, so the
    sections wiring reads later are that same object (no second read of the environment)."""
    from invoice_bridge import wiring
    from invoice_bridge.settings import OfficeSettings, Resources, load_function_settings, section

    wiring.reset()
    checked = load_function_settings("ConsentFunction")

    assert section(Resources) is checked and section(OfficeSettings) is checked


def test_a_json_setting_is_read_from_its_variable_and_a_bad_one_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from invoice_bridge import wiring
    from invoice_bridge.settings import OperationsSettings, section

    monkeypatch.setenv("RETRY_BACKOFF_SECONDS", "[5, 60]")
    wiring.reset()
    assert section(OperationsSettings).retry_backoff_seconds == [5, 60]

    monkeypatch.setenv("retry_backoff_seconds", "5 then 60")  # any case, as Lambda's environment allows
    monkeypatch.delenv("RETRY_BACKOFF_SECONDS")
    wiring.reset()
    # pydantic-settings names the field whose variable is not JSON: the variable's name, in its own case.
    with pytest.raises(MissingSettings, match="(?i)RETRY_BACKOFF_SECONDS"):
        section(OperationsSettings)
