"""Fixtures for the template checks: the raw SAM template, its offline CloudFormation transform,
and the SAM CLI from its own virtual environment (scripts/setup-sam-tools.sh)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from infra_support import PARAMETERS, REGION, REPO, SAM, TEMPLATE, ForbiddenPolicyLoader, with_s3_artifacts
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


@pytest.fixture(scope="session")
def raw_template() -> dict[str, Any]:
    return yaml_parse(TEMPLATE.read_text())


@pytest.fixture(scope="session")
def transformed(raw_template: dict[str, Any]) -> dict[str, Any]:
    """The generated CloudFormation (dict), translated offline by samtranslator."""
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = REGION
    loader = ForbiddenPolicyLoader()
    try:
        result = transform(with_s3_artifacts(raw_template), dict(PARAMETERS), loader)
    finally:
        if previous is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous
    assert loader.calls == 0
    return result


@pytest.fixture(scope="session")
def sam_cli() -> Path:
    if not SAM.exists():
        pytest.fail(
            f"SAM CLI not found at {SAM.relative_to(REPO)}: run `bash scripts/setup-sam-tools.sh` "
            "(`make test` does it) to create the tools virtual environment.",
            pytrace=False,
        )
    return SAM
