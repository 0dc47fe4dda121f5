"""The consent function's cold start (what a contact waits for) loads neither the render stack nor the
operator adapters nor the console, nor what only the OAuth callback or the first page needs: checked in a fresh interpreter that imports the
handler the way the Lambda runtime does (its folder first on sys.path, then `import app`)."""

from __future__ import annotations

import json
import os

from cold_start_probe import LOADED_PROBE, probe_cold_start

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


def test_the_consent_handler_import_loads_neither_the_render_stack_nor_the_operator_adapters() -> None:
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-north-1", "POWERTOOLS_TRACE_DISABLED": "true"}
    assert probe_cold_start("oauth_callback", LOADED_PROBE, json.dumps(NOT_AT_COLD_START), env=env) == []
