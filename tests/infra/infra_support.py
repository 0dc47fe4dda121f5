"""Paths and helpers of the template checks (tests/infra), shared by conftest and the tests."""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
SAM = REPO / ".tools" / "sam" / "bin" / "sam"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
PYTHON312_BIN = Path("/root/.pyenv/versions/3.12.1/bin")
REGION = "eu-north-1"

# Every Lambda function the template declares.
FUNCTIONS = {
    "ConsentFunction",
    "AdminApiFunction",
    "PollInvoicesFunction",
    "SyncIntegrationFunction",
    "RenderFunction",
    "DispatchFunction",
    "TrackDeliveriesFunction",
    "SesEventsFunction",
    "ConsoleFunction",
}

# Values for the template's required parameters (the rest keep their defaults).
PARAMETERS = {
    "SpirisClientId": "client-id",
    "SenderEmail": "invoices@example.com",
    "OfficeEmail": "office@example.com",
    "AlarmEmail": "alarms@example.com",
}


class ForbiddenPolicyLoader:
    """Managed-policy loader for samtranslator. `load()` means an unknown managed policy name,
    which SAM would resolve with iam:ListPolicies at deploy time: the template must not need it."""

    def __init__(self) -> None:
        self.calls = 0

    def load(self) -> dict[str, str]:
        self.calls += 1
        raise AssertionError("samtranslator asked IAM for a managed policy that is not in its bundled map")


def sam_env() -> dict[str, str]:
    """Environment for the SAM CLI: no telemetry, a dummy region, python3.12 first on PATH."""
    env = dict(os.environ)
    env.update(
        SAM_CLI_TELEMETRY="0",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        PATH=f"{PYTHON312_BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    env.pop("AWS_ENDPOINT_URL", None)
    return env


def with_s3_artifacts(template: dict[str, Any]) -> dict[str, Any]:
    """What `sam package` does: local CodeUri/ContentUri become S3 URIs (the translator needs them)."""
    packaged = copy.deepcopy(template)
    for logical_id, resource in packaged["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://artifacts/{logical_id}.zip"
    return packaged
