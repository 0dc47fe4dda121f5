"""A function's cold start, probed in a fresh interpreter that imports its handler the way the Lambda runtime
does (its folder first on sys.path, then `import app`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"

# argv: the function's folder, then a JSON list of module prefixes; prints those of them the import loaded.
LOADED_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import app
prefixes = tuple(json.loads(sys.argv[2]))
print(json.dumps(sorted(m for m in sys.modules if any(m == p or m.startswith(p + ".") for p in prefixes))))
"""


def probe_cold_start(folder: str, probe: str, *args: str, env: dict[str, str] | None = None) -> Any:
    """`probe`'s last line (JSON), run in a fresh interpreter that imports the handler of functions/<folder>
    (argv: the folder, then `args`); by default tracing off."""
    done = subprocess.run(
        [sys.executable, "-c", probe, str(FUNCTIONS / folder), *args],
        env=env or {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true"}, cwd=FUNCTIONS / folder,
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
