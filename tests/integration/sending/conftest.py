"""Fixtures of the sending tests; the helpers live in sending_support.py (a unique module name)."""

from sending_support import sqs_faults, world  # noqa: F401
from spiris_source import spiris_company  # noqa: F401
