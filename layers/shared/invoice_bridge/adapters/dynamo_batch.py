"""Many items of the table by key in few requests: BatchGetItem, 100 keys a request.

DynamoDB may answer a BatchGetItem with only part of the keys (throttling, or a response over 16 MB): the
rest come back as `UnprocessedKeys`, to be asked again after a backoff. A read that makes no progress for
`MAX_ROUNDS_WITHOUT_PROGRESS` rounds gives up with `BatchReadIncomplete` (the caller's message is retried):
never a partial result taken for the whole.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from .aws import resource

MAX_KEYS_PER_REQUEST = 100  # DynamoDB's limit for one BatchGetItem
MAX_ROUNDS_WITHOUT_PROGRESS = 6
_BACKOFF_BASE_SECONDS = 0.05
_BACKOFF_CAP_SECONDS = 2.0

Key = dict[str, str]


class BatchReadIncomplete(Exception):
    """DynamoDB kept some keys unprocessed past the retries (sustained throttling)."""


class BatchGetter(Protocol):
    """The one call used of the DynamoDB service resource (what a test's stand-in provides)."""

    def batch_get_item(self, **kwargs: Any) -> dict[str, Any]: ...


def batch_get(
    table_name: str,
    keys: Iterable[Key],
    *,
    consistent: bool = True,
    dynamodb: BatchGetter | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """The items stored under `keys` (duplicates asked once; missing keys are simply not in the answer),
    in no particular order."""
    getter = dynamodb or resource("dynamodb")
    pending = _unique(keys)
    found: list[dict[str, Any]] = []
    rounds_without_progress = 0
    while pending:
        batch, pending = pending[:MAX_KEYS_PER_REQUEST], pending[MAX_KEYS_PER_REQUEST:]
        answer = getter.batch_get_item(
            RequestItems={table_name: {"Keys": batch, "ConsistentRead": consistent}}
        )
        found.extend(answer.get("Responses", {}).get(table_name, []))
        unprocessed: list[Key] = answer.get("UnprocessedKeys", {}).get(table_name, {}).get("Keys", [])
        if not unprocessed:
            rounds_without_progress = 0
            continue
        rounds_without_progress = 0 if len(unprocessed) < len(batch) else rounds_without_progress + 1
        if rounds_without_progress >= MAX_ROUNDS_WITHOUT_PROGRESS:
            raise BatchReadIncomplete(
                f"{len(unprocessed) + len(pending)} keys of {table_name} still unprocessed after "
                f"{MAX_ROUNDS_WITHOUT_PROGRESS} rounds"
            )
        sleep(_backoff(rounds_without_progress))
        pending = [*unprocessed, *pending]
    return found


def _unique(keys: Iterable[Key]) -> list[Key]:
    # DynamoDB refuses a request that names one key twice (ValidationException).
    seen: dict[tuple[tuple[str, str], ...], Key] = {}
    for key in keys:
        seen.setdefault(tuple(sorted(key.items())), key)
    return list(seen.values())


def _backoff(rounds_without_progress: int) -> float:
    """Exponential with full jitter, as AWS advises for unprocessed keys."""
    ceiling = min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2**rounds_without_progress)
    return random.uniform(0, ceiling)  # noqa: S311 - jitter, not a secret
