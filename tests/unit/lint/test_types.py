"""mypy, strict, over `invoice_bridge` and the port doubles ([tool.mypy] in pyproject.toml): part of the
test run, so CI (which runs `make test`) fails on a type error as `make lint` does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _mypy(*paths: str) -> subprocess.CompletedProcess[str]:
    # A fresh interpreter in the repository root: the configuration's paths are relative to it, and mypy
    # keeps its cache there (.mypy_cache), so the second run below reuses the first one's analysis.
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), *paths],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )


def test_invoice_bridge_and_the_port_doubles_pass_mypy_strict() -> None:
    done = _mypy()
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "Success: no issues found" in done.stdout


def test_a_double_that_drifts_from_its_port_fails_the_check(tmp_path: Path) -> None:
    drifted = tmp_path / "drifted_double.py"
    drifted.write_text(
        "from invoice_bridge.ports import Mail, Mailer\n\n\n"
        "class UrgentMailer:\n"
        "    def send(self, mail: Mail, urgent: bool) -> str:  # the port's send takes the mail only\n"
        "        return 'message-1'\n\n\n"
        "mailer: Mailer = UrgentMailer()\n",
        encoding="utf-8",
    )
    done = _mypy(str(drifted))
    assert done.returncode == 1
    assert (
        'error: Incompatible types in assignment (expression has type "UrgentMailer", variable has type "Mailer")'
        in done.stdout
    )
