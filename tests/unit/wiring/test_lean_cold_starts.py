"""What a cold start does not load: jinja2 in any handler (the templates of notices to issuers, consent and
console pages and invoice texts are built at their first use; most calls never send a notice), and the
OpenAPI models in the admin API outside GET /openapi.json; and the settings classes of other functions."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from cold_start_probe import FUNCTIONS, LOADED_PROBE, probe_cold_start

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


ADMIN_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import app
MODELS = "aws_lambda_powertools.event_handler.openapi.models"
def call(method, path, body=None):
    event = {"httpMethod": method, "path": path, "resource": path, "headers": {"Content-Type": "application/json"},
             "requestContext": {"requestId": "r", "stage": "v1"}, "queryStringParameters": None,
             "body": body, "isBase64Encoded": False}
    return app.build_app().resolve(event, None)
refused = call("POST", "/issuers", json.dumps({"name": ""}))
after_request = MODELS in sys.modules
schema = json.loads(call("GET", "/openapi.json")["body"])
print(json.dumps({"status": refused["statusCode"], "models_after_request": after_request,
                  "schemes": sorted(schema["components"]["securitySchemes"])}))
"""


def test_the_admin_api_validates_requests_without_building_the_openapi_models() -> None:
    """Powertools' OpenAPI models (~200 pydantic classes) are built for GET /openapi.json only, which still
    states both security schemes; request validation (a 422) does not need them."""
    found = probe_cold_start("admin_api", ADMIN_PROBE)
    assert found == {"status": 422, "models_after_request": False, "schemes": ["bearerAuth", "sigv4"]}


SETTINGS_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import app
from pydantic_settings import BaseSettings

def subclasses(kind):
    for sub in kind.__subclasses__():
        yield sub
        yield from subclasses(sub)

ours = {kind for kind in subclasses(BaseSettings) if kind.__module__ == "invoice_bridge.settings"}
print(json.dumps({
    "function_classes": sorted(kind.__name__ for kind in ours if kind.__name__.endswith("FunctionSettings")),
    "validators_built": sorted(kind.__name__ for kind in ours if kind.__pydantic_complete__),
}))
"""


def test_a_cold_start_builds_the_settings_class_of_its_own_function_only() -> None:
    """A class gathering sections copies all their fields, and its validator is costly to build: a cold
    start builds its own function's settings class and that one validator, not one per function."""
    found = probe_cold_start("oauth_callback", SETTINGS_PROBE)
    own = ["ConsentFunctionSettings"]
    assert found == {"function_classes": own, "validators_built": own}


# What each handler's import must not load (issue 15, cold import vs `import boto3`): what no call of the
# function needs, or only some calls do (those import it at first use).
NOT_IN_ANY_COLD_START = (
    "httpx",  # the Spiris and operator adapters' HTTP client: at their first request
    "jwt",
    "cryptography",
    "multipart",
    "fpdf",
    "fontTools",
    "PIL",
    "lxml",
    "saxonche",
    "jinja2",
    "invoice_bridge.adapters",  # no client at import: the getters build adapters at first use
    "invoice_bridge.models.spiris",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.parameters",
)
# The queue and scheduled functions answer no HTTP request and serve no page.
NOT_OUTSIDE_THE_HTTP_FUNCTIONS = (
    "aws_lambda_powertools.event_handler",
    "invoice_bridge.api",
    "invoice_bridge.console",
    "invoice_bridge.consent",
)
# stdnum (with pydoc, pkgutil): only a cold start that validates the office's org number and bankgiro needs it.
NO_IDENTIFIER_CHECK = ("stdnum",)
NOT_AT_COLD_START_OF = {
    "admin_api": NOT_IN_ANY_COLD_START + ("invoice_bridge.render", "invoice_bridge.console", "invoice_bridge.dispatch"),
    "console": NOT_IN_ANY_COLD_START + ("invoice_bridge.dispatch", "invoice_bridge.fetch"),
    "oauth_callback": NOT_IN_ANY_COLD_START + (
        "invoice_bridge.render", "invoice_bridge.console", "invoice_bridge.dispatch", "invoice_bridge.fetch",
        "invoice_bridge.models.invoice", "aws_lambda_powertools.utilities.batch",
    ),
    "dispatch": NOT_IN_ANY_COLD_START + NOT_OUTSIDE_THE_HTTP_FUNCTIONS + ("invoice_bridge.render",),
    "render": NOT_IN_ANY_COLD_START + NOT_OUTSIDE_THE_HTTP_FUNCTIONS + NO_IDENTIFIER_CHECK,
    "sync_integration": NOT_IN_ANY_COLD_START + NOT_OUTSIDE_THE_HTTP_FUNCTIONS + ("invoice_bridge.render",),
    "poll_invoices": NOT_IN_ANY_COLD_START + NOT_OUTSIDE_THE_HTTP_FUNCTIONS + NO_IDENTIFIER_CHECK + (
        "aws_lambda_powertools.utilities.batch", "aws_lambda_powertools.utilities.parser",
    ),
    "track_deliveries": NOT_IN_ANY_COLD_START + NOT_OUTSIDE_THE_HTTP_FUNCTIONS + NO_IDENTIFIER_CHECK + (
        "aws_lambda_powertools.utilities.batch", "aws_lambda_powertools.utilities.parser",
    ),
    "sweep_stuck": NOT_IN_ANY_COLD_START + NOT_OUTSIDE_THE_HTTP_FUNCTIONS + (
        "aws_lambda_powertools.utilities.batch", "aws_lambda_powertools.utilities.parser",
    ),
    "ses_events": NOT_IN_ANY_COLD_START + NOT_OUTSIDE_THE_HTTP_FUNCTIONS + NO_IDENTIFIER_CHECK + (
        "aws_lambda_powertools.utilities.batch",
    ),
}


def test_every_function_is_listed() -> None:
    assert sorted(NOT_AT_COLD_START_OF) == sorted(p.parent.name for p in FUNCTIONS.glob("*/app.py"))


@pytest.mark.parametrize("folder", sorted(NOT_AT_COLD_START_OF))
def test_a_handler_cold_start_loads_only_what_every_call_needs(folder: str) -> None:
    """Tracing on, as deployed (`Tracing: Active`): the Tracer's X-Ray SDK is part of every cold start."""
    env = {name: value for name, value in os.environ.items() if name != "POWERTOOLS_TRACE_DISABLED"}
    env |= {"AWS_LAMBDA_FUNCTION_NAME": folder, "LAMBDA_TASK_ROOT": str(FUNCTIONS / folder),
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR", "CONSOLE_USER_POOL_ID": "eu-north-1_pool",
            "CONSOLE_CLIENT_ID": "client"}
    assert probe_cold_start(folder, LOADED_PROBE, json.dumps(NOT_AT_COLD_START_OF[folder]), env=env) == []
