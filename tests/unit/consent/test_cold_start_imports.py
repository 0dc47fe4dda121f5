"""The consent function's cold start (what a contact waits for) loads neither the render stack nor the
operator adapters nor the console, nor what only the OAuth callback or the first page needs: checked in a fresh interpreter that imports the
handler the way the Lambda runtime does (its folder first on sys.path, then `import app`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
CONSENT = REPO / "functions" / "oauth_callback"
NOT_AT_COLD_START = (
    "fpdf",  # render stack
    "fontTools",
    "PIL",
    "lxml",
    "saxonche",
    "invoice_bridge.render",
    "invoice_bridge.adapters.maventa",  # operator adapters
    "invoice_bridge.adapters.inexchange",
    "invoice_bridge.adapters.operator_http",
    "jwt",  # reads the access token's claims in the OAuth callback only
    "invoice_bridge.models.spiris",  # the company settings read in the OAuth callback
    "jinja2",  # the pages' templates: built at the first page (a redirect renders none)
    "invoice_bridge.console",
)
PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import app
prefixes = tuple(json.loads(sys.argv[2]))
print(json.dumps(sorted(m for m in sys.modules if any(m == p or m.startswith(p + ".") for p in prefixes))))
"""


def test_the_consent_handler_import_loads_neither_the_render_stack_nor_the_operator_adapters() -> None:
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-north-1", "POWERTOOLS_TRACE_DISABLED": "true"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(CONSENT), json.dumps(NOT_AT_COLD_START)],
        env=env, cwd=CONSENT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
