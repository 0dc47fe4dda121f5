"""The cold-import bench starts each handler as Lambda does, and a handler reads every setting at its
cold start: the environment the bench makes up from the template must satisfy each function's settings,
or `make bench` stops at the first function that needs one more."""

from __future__ import annotations

import os

import pytest
from invoice_bridge.settings import FUNCTION_SETTINGS, load_function_settings

from bench.cold_imports import _deployed_variables
from bench.layer import REPO_ROOT
from sandbox.template import load_template

TEMPLATE = load_template(REPO_ROOT / "template.yaml")


@pytest.mark.parametrize("function", sorted(FUNCTION_SETTINGS))
def test_the_made_up_deployment_satisfies_every_function_settings(function, monkeypatch):
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in _deployed_variables(TEMPLATE, TEMPLATE.functions[function]).items():
        monkeypatch.setenv(name, value)
    load_function_settings(function)  # raises MissingSettings naming what the bench left out
