"""The gateway stands in for IAM only. A route behind another authorizer (a Cognito user pool or a Lambda
authorizer) is refused when the stack starts: served without its check, it would be open locally and
closed in AWS."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sandbox.gateway import Gateway
from sandbox.lambdas import Handlers
from sandbox.template import ApiEvent, load_template

FIXTURE = Path(__file__).parent / "fixture" / "template.yaml"


def test_a_route_behind_a_cognito_authorizer_is_refused_at_start() -> None:
    template = load_template(FIXTURE)
    assert Gateway(template, Handlers(template), "token", "http://127.0.0.1:9").routes  # IAM and NONE serve
    name, function = next((n, f) for n, f in template.functions.items() if f.api_events)
    pages = ApiEvent("Pages", "/pages", "GET", "ConsoleCognito")
    template.functions[name] = replace(function, api_events=(*function.api_events, pages))
    with pytest.raises(ValueError, match="ConsoleCognito"):
        Gateway(template, Handlers(template), "token", "http://127.0.0.1:9")
