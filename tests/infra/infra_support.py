"""Paths and helpers of the template checks (tests/infra), shared by conftest and the tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
}

# Values for the template's required parameters (the rest keep their defaults).
PARAMETERS = {
    "SpirisClientId": "client-id",
    "SenderEmail": "invoices@example.com",
    "OfficeEmail": "office@example.com",
    "AlarmEmail": "alarms@example.com",
}


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
