"""Paths and helpers of the template checks (tests/infra), shared by conftest and the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
SAM = REPO / ".tools" / "sam" / "bin" / "sam"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
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
    "SweepStuckFunction",
    "ConsoleFunction",
}

# Values for the template's required parameters (the rest keep their defaults).
PARAMETERS = {
    "SpirisClientId": "client-id",
    "SenderEmail": "invoices@example.com",
    "OfficeEmail": "office@example.com",
    "OfficeName": "Byrån AB",
    "OfficeOrgNumber": "556998-1235",
    "OfficeBankgiro": "5050-1055",
    "AlarmEmail": "alarms@example.com",
}


@cache
def python312_bin() -> str:
    """bin/ of a Python 3.12 (the Lambda runtime's), found or installed by scripts/python312.sh."""
    found = subprocess.run(
        ["bash", str(REPO / "scripts" / "python312.sh")], capture_output=True, text=True, check=True
    )
    return found.stdout.strip()


def sam_env() -> dict[str, str]:
    """Environment for the SAM CLI: no telemetry, a dummy region, python3.12 first on PATH."""
    env = dict(os.environ)
    env.update(
        SAM_CLI_TELEMETRY="0",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        PATH=f"{python312_bin()}{os.pathsep}{env.get('PATH', '')}",
    )
    env.pop("AWS_ENDPOINT_URL", None)
    return env
