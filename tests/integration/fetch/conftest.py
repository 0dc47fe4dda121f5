"""Fixtures of the fetch tests; the helpers live in fetch_support.py (a unique module name: pytest puts
every test folder on sys.path, and two modules called conftest would shadow each other)."""

from fetch_support import aws, sandbox  # noqa: F401
