"""cfn-lint and `sam validate --lint` report nothing on template.yaml, and both do fail on a bad one."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from infra_support import CFN_LINT, REPO, TEMPLATE, sam_env

pytestmark = pytest.mark.tools


def run(args: list[str | Path], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=sam_env(), capture_output=True, text=True, timeout=120
    )


MISSPELT = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeOut: 720
"""


def misspelt_template(tmp_path: Path) -> Path:
    """A tiny template with one misspelt property: proves the checker fails on findings at all."""
    broken = tmp_path / "template.yaml"
    broken.write_text(MISSPELT)
    return broken


def test_cfn_lint_reports_no_findings() -> None:
    result = run([CFN_LINT, TEMPLATE])
    assert result.returncode == 0, f"cfn-lint findings:\n{result.stdout}{result.stderr}"
    assert result.stdout.strip() == ""


def test_cfn_lint_catches_a_misspelt_property(tmp_path: Path) -> None:
    result = run([CFN_LINT, misspelt_template(tmp_path)], cwd=tmp_path)
    assert result.returncode != 0
    assert "VisibilityTimeOut" in result.stdout


def test_sam_validate_lint_reports_no_findings(sam_cli: Path) -> None:
    result = run([sam_cli, "validate", "--lint", "--template-file", TEMPLATE])
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"sam validate --lint findings:\n{output}"
    assert "is a valid SAM Template" in output


def test_sam_validate_lint_catches_a_misspelt_property(sam_cli: Path, tmp_path: Path) -> None:
    result = run(
        [sam_cli, "validate", "--lint", "--template-file", misspelt_template(tmp_path)], cwd=tmp_path
    )
    assert result.returncode != 0
    assert "VisibilityTimeOut" in result.stdout + result.stderr
