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
# The settings a deployed function gets from the template (they have no defaults): test values, which a
# test's own environment (monkeypatch, the embedded stack) overrides. The cold-start test removes them.
TEST_SETTINGS = {
    "TABLE_NAME": "InvoiceBridgeTable",
    "DOCUMENTS_BUCKET": "invoice-bridge-documents",
    "TOKEN_KEY_ID": "alias/invoice-bridge-tokens",
    "SYNC_QUEUE_URL": "https://sqs.eu-north-1.amazonaws.com/123456789012/SyncQueue",
    "RENDER_QUEUE_URL": "https://sqs.eu-north-1.amazonaws.com/123456789012/RenderQueue",
    "DISPATCH_QUEUE_URL": "https://sqs.eu-north-1.amazonaws.com/123456789012/DispatchQueue",
    "PUBLIC_BASE_URL": "http://127.0.0.1:8080",
    "SPIRIS_CLIENT_ID": "invoice-bridge",
    "SPIRIS_CLIENT_SECRET_PARAMETER": "/invoice-bridge/spiris-client-secret",
    "MAVENTA_VENDOR_API_KEY_PARAMETER": "/invoice-bridge/maventa-vendor-api-key",
    "INEXCHANGE_PARTNER_API_KEY_PARAMETER": "/invoice-bridge/inexchange-partner-api-key",
    "SENDER_EMAIL": "invoices@example.com",
    "OFFICE_EMAIL": "office@example.com",
    "OFFICE_NAME": "Keeros Finans AB",
    "OFFICE_ORG_NUMBER": "5569981235",
    "OFFICE_BANKGIRO": "5050-1055",
    "DISPATCH_LEASE_SECONDS": "120",
}
for _name, _value in TEST_SETTINGS.items():
    os.environ.setdefault(_name, _value)


@pytest.fixture(autouse=True)
def _fresh_wiring():
    from invoice_bridge import wiring

    wiring.reset()
    yield
    wiring.reset()


@pytest.fixture(autouse=True, scope="session")
def _moto_transactions_back_up_only_their_items() -> None:
    """Moto deep-copies every table a TransactWriteItems names before writing: O(table size) per
    transaction. The embedded stack's server replaces that with a backup of the named items (same
    all-or-nothing result, sandbox/moto_server.py) for the whole process, so without this a test's time
    and memory depended on whether a stack had started earlier in its xdist worker: the 1,000-invoice
    dispatch soak took 4-5 minutes after one, and over 17 minutes at 16 GB without."""
    from sandbox.moto_server import install_item_level_transaction_backup

    install_item_level_transaction_backup()
