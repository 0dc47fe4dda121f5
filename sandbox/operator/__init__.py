"""The e-invoice operator sandbox: a Maventa AX-compatible API and an InExchange API, as strict as the
services. See docs/contract.md §6 and the modules' docstrings."""

from .app import create_app, serve
from .state import OperatorState

__all__ = ["OperatorState", "create_app", "serve"]
