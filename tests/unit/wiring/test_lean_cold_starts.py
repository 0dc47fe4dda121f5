"""What a cold start does not load: jinja2 in any handler (the templates of notices to issuers, consent and
console pages and invoice texts are built at their first use; most calls never send a notice), and the
OpenAPI models in the admin API outside GET /openapi.json; and the settings classes of other functions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cold_start_probe import FUNCTIONS, LOADED_PROBE, probe_cold_start

from sandbox.template import load_template

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



MESSAGES_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import app
from pydantic import BaseModel
from invoice_bridge import messages

ours = [kind for kind in vars(messages).values()
        if isinstance(kind, type) and issubclass(kind, BaseModel) and kind.__module__ == messages.__name__]
print(json.dumps(sorted(kind.__name__ for kind in ours if kind.__pydantic_complete__)))
"""


@pytest.mark.parametrize(("folder", "own"), [
    ("sync_integration", "SyncRecord"), ("render", "RenderRecord"), ("dispatch", "DispatchRecord"),
])
def test_a_queue_function_cold_start_builds_the_record_model_of_its_own_queue_only(folder: str, own: str) -> None:
    """Each message model is built at its first use: a queue function's cold start builds the one its
    records are parsed into (every invocation needs it), not those of the other queues."""
    assert probe_cold_start(folder, MESSAGES_PROBE) == [own]


BATCH_BEFORE_PYDANTIC_PROBE = """
import json, sys
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import has_pydantic
from invoice_bridge.messages import SyncRecord

def record(message_id, body):
    return {"messageId": message_id, "receiptHandle": "h", "body": body, "attributes": {
        "ApproximateReceiveCount": "1", "SentTimestamp": "1", "SenderId": "s",
        "ApproximateFirstReceiveTimestamp": "1"}, "messageAttributes": {}, "md5OfBody": "m",
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:eu-north-1:1:q", "awsRegion": "eu-north-1"}

seen = []
def handle(record):
    if record.body.integration_id == "refused":
        raise RuntimeError("refused")
    seen.append(record.body.integration_id)

event = {"Records": [record("1", json.dumps({"integration_id": "i-1"})), record("2", "not json"),
                     record("3", json.dumps({"integration_id": "refused"}))]}
answer = process_partial_response(event=event, record_handler=handle, context=None,
                                  processor=BatchProcessor(event_type=EventType.SQS, model=SyncRecord))
print(json.dumps({"models_built_for_hints": has_pydantic, "handled": seen,
                  "failed": [item["itemIdentifier"] for item in answer["batchItemFailures"]]}))
"""


def test_the_batch_utility_imported_before_pydantic_still_parses_records_into_our_models() -> None:
    """The queue functions import Powertools' batch utility before pydantic (so it skips the models of other
    event sources): records are still parsed into our model, and the malformed and the failed ones reported."""
    found = probe_cold_start("sync_integration", BATCH_BEFORE_PYDANTIC_PROBE)
    assert found == {"models_built_for_hints": False, "handled": ["i-1"], "failed": ["2", "3"]}


PLUGINS_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import app
from pydantic.plugin import _loader
print(json.dumps({"looked_for_plugins": _loader._plugins is not None}))
"""


@pytest.mark.parametrize("function", ["ConsentFunction", "RenderFunction"])
def test_a_cold_start_does_not_look_for_pydantic_plugins(function: str) -> None:
    """We use no pydantic plugin: the template's environment says so (PYDANTIC_DISABLE_PLUGINS), so building
    the settings' validator does not read the entry points of every package in the layer."""
    template = load_template(FUNCTIONS.parent / "template.yaml").functions[function]
    constants = {name: value for name, value in template.environment.items() if isinstance(value, str)}
    folder = Path(template.code_uri).name
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true"} | constants
    assert probe_cold_start(folder, PLUGINS_PROBE, env=env) == {"looked_for_plugins": False}

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
# The queue functions read SQS records only: Powertools' batch utility, imported before pydantic, does not
# build its parser models of the other event sources (it builds them for its type hints if pydantic is loaded).
OTHER_EVENT_SOURCE_MODELS = tuple(
    f"aws_lambda_powertools.utilities.parser.models.{source}" for source in ("dynamodb", "kinesis", "kafka")
)
NOT_AT_COLD_START_OF = {
    "admin_api": NOT_IN_ANY_COLD_START + ("invoice_bridge.render", "invoice_bridge.console", "invoice_bridge.dispatch"),
    "console": NOT_IN_ANY_COLD_START + (
        "invoice_bridge.dispatch", "invoice_bridge.fetch",
        # Amounts are formatted by render.numbers: the PDF's module and the invoice and issuer models it
        # imports load with the pages that show invoices or issuers, not with sign-in or the static files.
        "invoice_bridge.render.pdf", "invoice_bridge.render.texts", "invoice_bridge.models.invoice",
        "invoice_bridge.models.issuer",
    ),
    "oauth_callback": NOT_IN_ANY_COLD_START + (
        "invoice_bridge.render", "invoice_bridge.console", "invoice_bridge.dispatch", "invoice_bridge.fetch",
        "invoice_bridge.models.invoice", "aws_lambda_powertools.utilities.batch",
    ),
    "dispatch": NOT_IN_ANY_COLD_START + NOT_OUTSIDE_THE_HTTP_FUNCTIONS + OTHER_EVENT_SOURCE_MODELS + (
        "invoice_bridge.render",
    ),
    "render": NOT_IN_ANY_COLD_START + NOT_OUTSIDE_THE_HTTP_FUNCTIONS + NO_IDENTIFIER_CHECK + OTHER_EVENT_SOURCE_MODELS,
    "sync_integration": NOT_IN_ANY_COLD_START + NOT_OUTSIDE_THE_HTTP_FUNCTIONS + OTHER_EVENT_SOURCE_MODELS + (
        "invoice_bridge.render",
    ),
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
