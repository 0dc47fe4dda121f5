"""Maventa-compatible (AX API) e-invoice operator sandbox. See docs/contract.md §6."""

from .app import OperatorState, create_app, serve

__all__ = ["OperatorState", "create_app", "serve"]
