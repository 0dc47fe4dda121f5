"""The one rule both operator adapters share: which answers mean "nothing reached the operator, try
later" (OperatorUnavailable, with the operator's Retry-After) and which mean "the outcome is unknown"
(reconcile by our id before sending again). Other 4xx answers are returned for the adapter to read in
its own error format."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from typing import Any

import httpx

from ..observability import trace_httpx
from ..ports import OperatorDocument, OperatorOutcomeUnknown, OperatorRejected, OperatorUnavailable

trace_httpx()

# "Try later" answers that are not 5xx: request timeout, too early, too many requests.
TRY_LATER = frozenset({408, 425, 429})
# A gateway between us and the operator gave up: the operator itself may have taken the upload.
_GATEWAY_LOST = frozenset({502, 504})
# A Retry-After longer than this is read as this: the message comes back and asks again.
MAX_RETRY_AFTER_SECONDS = 900.0


def send(client: httpx.Client, method: str, path: str, *, idempotent: bool, **kwargs: Any) -> httpx.Response:
    """One request. For a non-idempotent call (an upload or send) a lost answer, a dropped connection
    or a gateway timeout is OperatorOutcomeUnknown; otherwise failures are OperatorUnavailable."""
    try:
        response = client.request(method, path, **kwargs)
    except httpx.ConnectError as exc:  # nothing reached the operator
        raise OperatorUnavailable(f"operator unreachable ({type(exc).__name__})") from None
    except httpx.TimeoutException as exc:
        if idempotent or isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            raise OperatorUnavailable(f"operator timed out ({type(exc).__name__})") from None
        raise OperatorOutcomeUnknown(f"no answer to {method} {path} ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        if idempotent:
            raise OperatorUnavailable(f"operator transport error ({type(exc).__name__})") from None
        raise OperatorOutcomeUnknown(f"connection lost on {method} {path}") from None
    status = response.status_code
    if status >= 500 and not idempotent and status in _GATEWAY_LOST:
        raise OperatorOutcomeUnknown(f"gateway answered {status} on {method} {path}")
    if status >= 500 or status in TRY_LATER:
        raise OperatorUnavailable(
            f"operator answered {status} on {method} {path}", retry_after_seconds=retry_after(response)
        )
    return response


def retry_after(response: httpx.Response, now: float | None = None) -> float | None:
    """The Retry-After header in seconds (delta-seconds or an HTTP date), capped; None when absent or
    unreadable."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def unless_not_found(read: Callable[[], OperatorDocument]) -> OperatorDocument | None:
    """The operator's document, or None when the operator answers 404 (it holds no such document)."""
    try:
        return read()
    except OperatorRejected as exc:
        if exc.status == 404:
            return None
        raise
