"""No handler loads jinja2 at its cold start: the templates (notices to issuers, consent and console pages,
invoice texts) are built at their first use, and most calls of most functions never send a notice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FUNCTIONS = Path(__file__).resolve().parents[3] / "functions"
PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
import app
print(" ".join(sorted(m for m in sys.modules if m == "jinja2" or m.startswith("jinja2."))))
"""


@pytest.mark.parametrize("folder", sorted(p.parent.name for p in FUNCTIONS.glob("*/app.py")))
def test_a_handler_cold_start_does_not_import_jinja2(folder: str) -> None:
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true", "CONSOLE_USER_POOL_ID": "eu-north-1_pool",
           "CONSOLE_CLIENT_ID": "client"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(FUNCTIONS / folder)],
        env=env, cwd=FUNCTIONS / folder, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ""
