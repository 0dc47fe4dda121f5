"""Fixtures of the core tests; the helpers live in core_support.py."""

from core_support import connected  # noqa: F401
