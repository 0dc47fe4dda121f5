"""Shared fixtures: AWS credentials for moto, a fresh wiring per test."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-north-1")
os.environ.setdefault("AWS_REGION", "eu-north-1")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "InvoiceBridge")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
os.environ.pop("AWS_ENDPOINT_URL", None)


@pytest.fixture(autouse=True)
def _fresh_wiring():
    from invoice_bridge import wiring

    wiring.reset()
    yield
    wiring.reset()
