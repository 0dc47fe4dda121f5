"""The one rule both operator adapters share: which failures mean "nothing reached the operator"
(retry freely) and which mean "the outcome is unknown" (reconcile by our id before sending again)."""

from __future__ import annotations

from typing import Any

import httpx

from ..dispatch.errors import OperatorOutcomeUnknown, OperatorUnavailable


def send(client: httpx.Client, method: str, path: str, *, idempotent: bool, **kwargs: Any) -> httpx.Response:
    """One request. For a non-idempotent call (an upload or send) a lost answer, a dropped connection
    or a gateway timeout is OperatorOutcomeUnknown; otherwise failures are OperatorUnavailable.
    4xx answers are returned for the adapter to read in its own error format."""
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
    if response.status_code >= 500:
        if not idempotent and response.status_code == 504:
            raise OperatorOutcomeUnknown(f"gateway timeout on {method} {path}")
        raise OperatorUnavailable(f"operator answered {response.status_code} on {method} {path}")
    return response
