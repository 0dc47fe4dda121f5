"""checkov on template.yaml, offline: 0 failed checks, and every suppression in the template says why.

Suppressions live next to the resource (`Metadata: checkov: skip: [{id, comment}]`), so a reviewer sees
the reason where the resource is; this test refuses a skip without a written reason or one that no
longer suppresses anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from infra_support import REPO, TEMPLATE

CHECKOV_OFFLINE = Path(__file__).with_name("checkov_offline.py")
MIN_REASON_WORDS = 8

Template = dict[str, Any]


def offline_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        BC_SKIP_MAPPING="TRUE",  # no guideline mapping download from the Prisma Cloud API
        CKV_SKIP_PACKAGE_UPDATE_CHECK="TRUE",  # no PyPI version check
        CKV_FRAMEWORK="cloudformation",
        LOG_LEVEL="WARNING",
    )
    for name in ("BC_API_KEY", "PRISMA_API_URL", "BC_API_URL"):
        env.pop(name, None)
    return env


def run_checkov(template: Path, cwd: Path) -> tuple[dict[str, Any], str]:
    result = subprocess.run(
        [
            sys.executable,
            str(CHECKOV_OFFLINE),
            "--file",
            str(template),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--compact",  # no code blocks; not --quiet, which drops the skipped checks from the report
            "--output",
            "json",
        ],
        cwd=cwd,
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.stdout.strip(), f"checkov printed no report (exit {result.returncode}):\n{result.stderr}"
    return json.loads(result.stdout), result.stderr


@pytest.fixture(scope="module")
def report() -> tuple[dict[str, Any], str]:
    return run_checkov(TEMPLATE, REPO)


def checkov_skips(raw_template: Template) -> dict[tuple[str, str], str]:
    """(logical id, check id) → comment, for every suppression written in the template."""
    found: dict[tuple[str, str], str] = {}
    for logical_id, resource in raw_template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            found[(logical_id, skip["id"])] = str(skip.get("comment") or "")
    return found


def test_checkov_runs_offline(report: tuple[dict[str, Any], str]) -> None:
    from checkov_offline import NETWORK_ATTEMPT

    _, stderr = report
    assert NETWORK_ATTEMPT not in stderr, stderr


def test_checkov_reports_no_failed_check_and_no_parsing_error(report: tuple[dict[str, Any], str]) -> None:
    results, _ = report
    assert results["check_type"] == "cloudformation"
    failed = [(c["check_id"], c["resource"], c["check_name"]) for c in results["results"]["failed_checks"]]
    assert failed == []
    assert results["summary"]["parsing_errors"] == 0
    # It looked at the whole template, not an empty file.
    assert results["summary"]["resource_count"] >= 35
    assert results["summary"]["passed"] >= 30


def test_every_suppression_has_a_written_reason(raw_template: Template) -> None:
    skips = checkov_skips(raw_template)
    assert skips, "expected the template's checkov suppressions"
    for (logical_id, check_id), comment in skips.items():
        assert check_id.startswith("CKV_"), (logical_id, check_id)
        assert len(comment.split()) >= MIN_REASON_WORDS, f"{logical_id} {check_id}: no reason given"


def test_every_suppression_still_suppresses_a_finding(
    report: tuple[dict[str, Any], str], raw_template: Template
) -> None:
    """A skip whose check would pass anyway is a stale excuse: remove it."""
    results, _ = report
    skipped = {(c["resource"].split(".", 1)[1], c["check_id"]) for c in results["results"]["skipped_checks"]}
    assert skipped == set(checkov_skips(raw_template))


def test_checkov_fails_an_unencrypted_public_bucket(tmp_path: Path) -> None:
    """The same offline run does report findings: a bare bucket fails several checks."""
    template = tmp_path / "template.yaml"
    template.write_text(
        'AWSTemplateFormatVersion: "2010-09-09"\nResources:\n  Bucket:\n    Type: AWS::S3::Bucket\n'
    )
    results, stderr = run_checkov(template, tmp_path)
    failed = {c["check_id"] for c in results["results"]["failed_checks"]}
    assert "CKV_AWS_18" in failed  # no access logging
    assert "CKV_AWS_21" in failed  # no versioning
    from checkov_offline import NETWORK_ATTEMPT

    assert NETWORK_ATTEMPT not in stderr
