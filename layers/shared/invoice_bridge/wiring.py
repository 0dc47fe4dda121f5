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
