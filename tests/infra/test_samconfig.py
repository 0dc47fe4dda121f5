"""infra/samconfig.toml deploys this template: every override names a template parameter, every
required parameter is given, and allowed values are respected."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from infra_support import REPO


def overrides(environment: dict[str, Any]) -> dict[str, str]:
    pairs = environment["deploy"]["parameters"]["parameter_overrides"]
    return dict(pair.split("=", 1) for pair in pairs)


@pytest.mark.parametrize("environment_name", ["default", "staging"])
def test_deploy_overrides_match_the_template_parameters(
    raw_template: dict[str, Any], environment_name: str
) -> None:
    config = tomllib.loads((REPO / "infra" / "samconfig.toml").read_text())
    environment = config[environment_name]
    parameters = raw_template["Parameters"]
    given = overrides(environment)
    assert set(given) <= set(parameters), set(given) - set(parameters)
    required = {name for name, spec in parameters.items() if "Default" not in spec}
    assert required <= set(given), required - set(given)
    for name, value in given.items():
        allowed = parameters[name].get("AllowedValues")
        if allowed:
            assert value in [str(v) for v in allowed], (name, value)
    assert environment["deploy"]["parameters"]["capabilities"] == "CAPABILITY_IAM"
    assert environment["global"]["parameters"]["stack_name"].startswith("invoice-bridge")
