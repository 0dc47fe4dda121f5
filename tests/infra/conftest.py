"""Fixtures for the template checks: the raw SAM template, its offline CloudFormation transform,
and the SAM CLI from its own virtual environment (scripts/setup-sam-tools.sh)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from infra_support import PARAMETERS, REPO, SAM, TEMPLATE
from samtranslator.yaml_helper import yaml_parse

from sandbox.sam import transform


@pytest.fixture(scope="session")
def raw_template() -> dict[str, Any]:
    return yaml_parse(TEMPLATE.read_text())


@pytest.fixture(scope="session")
def transformed(raw_template: dict[str, Any]) -> dict[str, Any]:
    """The generated CloudFormation (dict), translated offline by samtranslator (no managed-policy
    look-up at IAM: the template must not need one)."""
    return transform(raw_template, dict(PARAMETERS))


@pytest.fixture(scope="session")
def sam_cli() -> Path:
    if not SAM.exists():
        pytest.fail(
            f"SAM CLI not found at {SAM.relative_to(REPO)}: run `bash scripts/setup-sam-tools.sh` "
            "(`make test` does it) to create the tools virtual environment.",
            pytrace=False,
        )
    return SAM
