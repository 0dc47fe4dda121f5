"""The office's command line, `invoice-bridge` (issue 7): a thin client of the admin API (contract.md §3)."""

from .main import main

__all__ = ["main"]
