"""Fixtures of the dispatch tests; the helpers live in dispatch_support.py (a unique module name: pytest puts
every test folder on sys.path, and two modules called conftest would shadow each other)."""

from dispatch_support import aws, operator_server, operator_url, ses_server, stack, strict_ses  # noqa: F401
from spiris_source import spiris_company  # noqa: F401
