"""Every function gets, from the template, every environment variable its settings require: the
settings have no example defaults, so a variable missing here would stop the function at its cold start."""

from __future__ import annotations

import re
from typing import Any

from infra_support import FUNCTIONS, REPO
from invoice_bridge.settings import FUNCTION_SETTINGS, required_variables


def _functions(transformed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in transformed["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }


def test_every_function_has_its_settings() -> None:
    assert set(FUNCTION_SETTINGS) == FUNCTIONS


def test_every_function_gets_the_variables_its_settings_require(transformed: dict[str, Any]) -> None:
    missing = {
        name: sorted(required_variables(FUNCTION_SETTINGS[name]) - set(props["Environment"]["Variables"]))
        for name, props in _functions(transformed).items()
    }
    assert {name: names for name, names in missing.items() if names} == {}


def test_the_office_reaches_the_functions_that_print_or_mail_it(transformed: dict[str, Any]) -> None:
    """The office's details are template parameters, not defaults in the code."""
    for name, props in _functions(transformed).items():
        variables = props["Environment"]["Variables"]
        if "OFFICE_NAME" in required_variables(FUNCTION_SETTINGS[name]):
            assert variables["OFFICE_NAME"] == {"Ref": "OfficeName"}, name
            assert variables["OFFICE_ORG_NUMBER"] == {"Ref": "OfficeOrgNumber"}, name
            assert variables["OFFICE_BANKGIRO"] == {"Ref": "OfficeBankgiro"}, name
            assert variables["OFFICE_EMAIL"] == {"Ref": "OfficeEmail"}, name
            # Unset when the parameter is empty: such a function then stops at its cold start, naming it.
            assert variables["PUBLIC_BASE_URL"] == {
                "Fn::If": ["HasPublicBaseUrl", {"Ref": "PublicBaseUrl"}, {"Ref": "AWS::NoValue"}]
            }, name


def test_every_handler_checks_its_own_settings_at_cold_start(raw_template: dict[str, Any]) -> None:
    for name in FUNCTIONS:
        code = REPO / raw_template["Resources"][name]["Properties"]["CodeUri"] / "app.py"
        checked = re.findall(r'^wiring\.check_settings\("(\w+)"\)', code.read_text(), re.MULTILINE)
        assert checked == [name], code
