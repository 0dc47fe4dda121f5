"""Cached getters that build adapters from Settings. Handlers call these; domain code receives ports.

Each capability keeps its getters in its own section below.
"""

from __future__ import annotations

from functools import cache

from .settings import Settings, get_settings  # noqa: F401


def reset() -> None:
    """Forget every cached adapter (tests switch settings and moto backends)."""
    from .adapters.aws import reset_clients

    reset_clients()
    get_settings.cache_clear()
    for getter in list(_GETTERS):
        getter.cache_clear()


_GETTERS: list = []


def _cached(fn):  # type: ignore[no-untyped-def]
    cached = cache(fn)
    _GETTERS.append(cached)
    return cached


# --- invoices, documents, queues (core) --------------------------------------------------------


@_cached
def invoice_repository():  # type: ignore[no-untyped-def]
    from .adapters.dynamo_invoices import DynamoInvoiceRepository

    return DynamoInvoiceRepository(get_settings().table_name)


@_cached
def document_store():  # type: ignore[no-untyped-def]
    from .adapters.s3_documents import S3DocumentStore

    return S3DocumentStore(get_settings().documents_bucket)


@_cached
def sync_queue():  # type: ignore[no-untyped-def]
    from .adapters.sqs_queue import SqsWorkQueue

    return SqsWorkQueue(get_settings().sync_queue_url)


@_cached
def render_queue():  # type: ignore[no-untyped-def]
    from .adapters.sqs_queue import SqsWorkQueue

    return SqsWorkQueue(get_settings().render_queue_url)


@_cached
def dispatch_queue():  # type: ignore[no-untyped-def]
    from .adapters.sqs_queue import SqsWorkQueue

    return SqsWorkQueue(get_settings().dispatch_queue_url)
