"""Changing a stored integration without overwriting a concurrent change (a revoke, a sync, a consent)."""

from __future__ import annotations

from collections.abc import Callable

from .models.integration import Integration
from .ports import ConflictError, IntegrationRepository

ATTEMPTS = 5


def update_integration(
    integrations: IntegrationRepository,
    integration_id: str,
    change: Callable[[Integration], Integration | None],
    attempts: int = ATTEMPTS,
    read: Integration | None = None,
) -> Integration:
    """Read, apply `change`, write conditionally on the version read; on a conflict read again and redo.

    `change` gets the current integration and returns the one to store, or None when there is nothing to
    do (then the current one is returned). It may raise to refuse (e.g. the integration was revoked).
    `read`: the integration as the caller read it, tried first instead of reading it again (a stale copy
    costs one conflict and a fresh read). Raises ConflictError when every attempt lost (the admin API
    answers 409)."""
    for attempt in range(attempts):
        current = read if attempt == 0 and read is not None else integrations.get(integration_id)
        updated = change(current)
        if updated is None:
            return current
        try:
            integrations.put(updated)
        except ConflictError:
            continue
        return updated
    raise ConflictError(f"integration {integration_id} keeps changing; try again")
