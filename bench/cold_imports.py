"""Cold import of every Lambda handler module: a fresh interpreter per import, like a cold start.

The baseline is the same fresh interpreter running `import boto3`, measured in the same run; the ratio
says how much heavier a handler's import is than the SDK every handler needs anyway.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = REPO_ROOT / "functions"
BASELINE = "import boto3"


def _import_code(function_dir: Path) -> str:
    # The Lambda runtime puts the function's own directory first on sys.path and imports `app`.
    return f"import sys; sys.path.insert(0, {str(function_dir)!r}); import app"


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT", "PYTHONPROFILE"))}
    env.setdefault("AWS_DEFAULT_REGION", "eu-north-1")
    env["POWERTOOLS_TRACE_DISABLED"] = "true"
    return env


def time_fresh_import(code: str) -> float:
    """Wall milliseconds of `python -c code` in a fresh interpreter."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        env=_environment(),
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return (time.perf_counter() - start) * 1000


def handler_dirs() -> list[Path]:
    return sorted(p.parent for p in FUNCTIONS.glob("*/app.py"))


def run(repeat: int = 5) -> dict[str, Any]:
    """Round-robin (baseline, then every handler, `repeat` rounds) so that a busy machine slows
    baseline and handlers alike; medians per module."""
    time_fresh_import("pass")  # warm the OS file cache for every run below alike
    codes = {"baseline": BASELINE, **{d.name: _import_code(d) for d in handler_dirs()}}
    timings: dict[str, list[float]] = {name: [] for name in codes}
    for _ in range(repeat):
        for name, code in codes.items():
            timings[name].append(time_fresh_import(code))
    baseline_ms = statistics.median(timings.pop("baseline"))
    functions = {
        name: {
            "median_ms": round(statistics.median(values), 1),
            "ratio": round(statistics.median(values) / baseline_ms, 2),
        }
        for name, values in timings.items()
    }
    return {
        "repeat": repeat,
        "baseline": BASELINE,
        "baseline_median_ms": round(baseline_ms, 1),
        "functions": functions,
    }
