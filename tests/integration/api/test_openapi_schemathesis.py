"""The admin API's OpenAPI document against the running embedded stack.

1. GET /openapi.json lists every admin route of template.yaml (AdminApiFunction's Api events), each with
   its success model, the ErrorBody model for its 4xx answers, and both security schemes.
2. schemathesis fuzzes every documented operation (positive and negative cases; real ids seeded by the
   demo scenario are mixed with generated ones) and checks: no server error, every response matches
   the documented schema, every status code is documented.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from sandbox.scenario import Scenario
from sandbox.stack import LocalStack

CHECKS = (not_a_server_error, response_schema_conformance, status_code_conformance)
# Examples per operation and kind: generated (valid per the schema; ids random), negative (invalid on
# purpose) and with the seeded real ids, so the success paths are exercised too. ~500 requests in all.
EXAMPLES = {"generated": 8, "negative": 6, "real ids": 10}
# Destructive operations run last so the others see the seeded integration still active.
LAST = ("DELETE",)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(run_scheduler=False) as running:
        yield running


@pytest.fixture(scope="module")
def seeded(stack: LocalStack) -> dict[str, str]:
    """The demo scenario up to a first sync: an issuer, an active integration, invoices (some held)."""
    assert stack.spiris_url and stack.operator_url
    scenario = Scenario(stack.api_url, stack.admin_token, stack.spiris_url, stack.operator_url)
    scenario.seed_spiris()
    scenario.create_issuer(scenario.seed_operator())
    assert scenario.consent(scenario.order_integration()) < 400
    scenario.sync_now()
    stack.drain_until_idle()
    invoices = scenario.wait(lambda: scenario.invoices(), timeout=60)
    assert invoices, "the first sync produced no invoices"
    return {
        "issuer_id": scenario.issuer_id,
        "integration_id": scenario.integration_id,
        "invoice_id": invoices[0]["id"],
    }


@pytest.fixture(scope="module")
def openapi(stack: LocalStack) -> dict[str, Any]:
    answer = httpx.get(
        f"{stack.api_url}/openapi.json", headers={"Authorization": f"Bearer {stack.admin_token}"}
    )
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


def _canonical(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_openapi_lists_every_admin_route_of_the_template(stack: LocalStack, openapi: dict[str, Any]) -> None:
    events = stack.template.functions["AdminApiFunction"].api_events
    in_template = {(e.method.lower(), _canonical(e.path)) for e in events if e.path != "/openapi.json"}
    documented = {(method, _canonical(path)) for path, ops in openapi["paths"].items() for method in ops}
    assert len(in_template) >= 19
    assert in_template == documented, (in_template - documented, documented - in_template)


def test_every_operation_documents_its_models_errors_and_security(openapi: dict[str, Any]) -> None:
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearerAuth"]["description"],
    }
    assert schemes["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    assert openapi["security"] == [{"bearerAuth": []}, {"sigv4": []}]
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    assert set(openapi["components"]["schemas"]["ErrorBody"]["properties"]) == {"error"}
    for path, ops in openapi["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            statuses = {int(s) for s in op["responses"]}
            successes = [s for s in statuses if s < 300]
            assert len(successes) == 1, where
            success = op["responses"][str(successes[0])]
            if successes[0] == 204:
                assert not success.get("content"), where
            else:
                schema = success["content"]["application/json"]["schema"]
                assert "$ref" in schema, f"{where}: the success answer has no model ({schema})"
            assert {401, 403, 422} <= statuses, where
            if "{" in path:
                assert 404 in statuses, where
            for status in statuses - set(successes):
                assert op["responses"][str(status)]["content"]["application/json"]["schema"] == error_ref, (
                    where
                )


def test_the_output_models_cover_the_domain_models() -> None:
    """A field added to Issuer/Integration must be added to the API's view model too (or left out on purpose)."""
    from invoice_bridge.api.integrations import IntegrationOut
    from invoice_bridge.api.issuers import IssuerOut
    from invoice_bridge.models.issuer import Issuer

    assert set(IssuerOut.model_fields) == (set(Issuer.model_fields) - {"logo_key"}) | {"has_logo", "warnings"}
    assert {"id", "issuer_id", "status", "company", "last_sync_at", "last_error"} <= set(
        IntegrationOut.model_fields
    )


def _operations(schema: Any) -> list[Any]:
    operations = [result.ok() for result in schema.get_all_operations()]
    return sorted(operations, key=lambda op: (op.method.upper() in LAST, op.path, op.method))


def _path_values(operation: Any, seeded: dict[str, str]) -> dict[str, str]:
    """Real ids for the operation's path parameters, picked by what the path names."""
    names = [p.name for p in operation.path_parameters]
    values = {}
    for name in names:
        values[name] = seeded.get(name) or seeded[f"{operation.path.strip('/').split('/')[0].rstrip('s')}_id"]
    return values


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(
    stack: LocalStack, seeded: dict[str, str]
) -> None:
    auth = {"Authorization": f"Bearer {stack.admin_token}"}
    schema = schemathesis.openapi.from_url(f"{stack.api_url}/openapi.json", headers=auth)
    passed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    failures: list[str] = []
    examples: Counter[str] = Counter()
    statuses: Counter[int] = Counter()

    operations = _operations(schema)
    assert len(operations) >= 19
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        positive, negative = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
        groups = [
            (EXAMPLES["generated"], operation.as_strategy(generation_mode=positive)),
            (EXAMPLES["negative"], operation.as_strategy(generation_mode=negative)),
        ]
        if operation.path_parameters:
            real = _path_values(operation, seeded)
            groups += [
                (EXAMPLES["real ids"], operation.as_strategy(path_parameters=real)),
                (EXAMPLES["negative"], operation.as_strategy(generation_mode=negative, path_parameters=real)),
            ]

        def exercise(case: Any, label: str = label) -> None:
            response = case.call(base_url=stack.api_url, headers=auth, timeout=30)
            examples[label] += 1
            statuses[response.status_code] += 1
            for check in CHECKS:
                total[check.__name__] += 1
                try:
                    case.validate_response(response, checks=[check], headers=auth)
                except (AssertionError, FailureGroup) as exc:
                    failures.append(
                        f"{label} [{check.__name__}] {case.method} {case.formatted_path} -> "
                        f"{response.status_code}: {str(exc)[:600]}"
                    )
                else:
                    passed[check.__name__] += 1

        for max_examples, strategy in groups:
            settings(
                max_examples=max_examples,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )(given(case=strategy)(lambda case: exercise(case)))()

    print(
        f"\nschemathesis {schemathesis.__version__}: {len(operations)} operations, {sum(examples.values())} examples"
    )
    for label, count in examples.items():
        print(f"  {label}: {count} examples")
    print(f"  statuses: {dict(sorted(statuses.items()))}")
    for check in CHECKS:
        name = check.__name__
        print(f"  {name}: {passed[name]}/{total[name]} passed")
    assert not failures, "\n".join(failures[:30])
    assert all(passed[c.__name__] == total[c.__name__] > 0 for c in CHECKS)
