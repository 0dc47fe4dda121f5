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
