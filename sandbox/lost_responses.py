"""DynamoDB answers lost after the write was applied, and the `ClientRequestToken` that makes it harmless.

In AWS a request can reach DynamoDB, be applied, and its answer never reach the caller (a read timeout,
a dropped connection). The SDK then sends it again (standard retry mode retries connection errors), and
the retry meets the first attempt's write. Moto never loses an answer, so that never happens in tests.

`lose_dynamodb_answers` makes it happen: a `before-send` handler, first on every botocore client made in
the block, lets a chosen DynamoDB request through to moto (mock_aws's stubber, or the moto server over
HTTP) and then raises `ReadTimeoutError` instead of handing back moto's answer. botocore's own retry
path then sends the request again, as it would in AWS.

Moto also ignores `ClientRequestToken` on TransactWriteItems, which DynamoDB honours: a retry with the
same token within 10 minutes succeeds without applying anything again, and the same token with other
parameters is refused (IdempotentParameterMismatchException). `honour_client_request_tokens` teaches
moto both (installed by `lose_dynamodb_answers` and by the embedded moto server).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.handlers
from botocore.exceptions import ReadTimeoutError
from botocore.httpsession import URLLib3Session

# DynamoDB keeps a token this long after the first request that used it completed.
TOKEN_WINDOW_SECONDS = 600.0

# (operation, the request's JSON body) → lose this request's answer
AnswerMatcher = Callable[[str, dict[str, Any]], bool]


@dataclass
class LostAnswers:
    """Lose the answer of the first attempt of each of the first `times` DynamoDB calls that `matches` (an
    SDK retry of a call, the same body, gets its answer); `lost` counts them by operation, `sent` counts
    every matching request (a retry is a request), `bodies` keeps them in order."""

    matches: AnswerMatcher
    times: int = 1
    lost: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._lost_bodies: set[bytes] = set()

    def before_send(self, request: Any = None, event_name: str = "", **_: Any) -> None:
        parts = event_name.split(".")
        if len(parts) < 3 or parts[1] != "dynamodb" or request is None:
            return
        operation, body = parts[2], json.loads(request.body or b"{}")
        if not self.matches(operation, body):
            return
        with self._lock:
            self.sent[operation] += 1
            self.bodies.append(body)
            raw = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
            if raw in self._lost_bodies or sum(self.lost.values()) >= self.times:
                return
            self._lost_bodies.add(raw)
            self.lost[operation] += 1
        _through_to_moto(request, event_name)
        raise ReadTimeoutError(endpoint_url=request.url)


def _through_to_moto(request: Any, event_name: str) -> None:
    """Have moto apply the request; its answer is dropped."""
    from moto.core.models import botocore_stubber

    if botocore_stubber.enabled and botocore_stubber(event_name=event_name, request=request) is not None:
        return
    URLLib3Session().send(request)  # the moto server (AWS_ENDPOINT_URL)


def writes_item(operations: Collection[str], pk_prefix: str, sk_prefix: str = "") -> AnswerMatcher:
    """A matcher: requests of `operations` that write an item whose keys start so (a transaction: any of its
    items)."""

    def keys(entry: dict[str, Any]) -> tuple[str, str]:
        key = entry.get("Item") or entry.get("Key") or {}
        return str(key.get("PK", {}).get("S", "")), str(key.get("SK", {}).get("S", ""))

    def matches(requested: str, body: dict[str, Any]) -> bool:
        if requested not in operations:
            return False
        entries = [next(iter(e.values())) for e in body.get("TransactItems", [])] or [body]
        return any(pk.startswith(pk_prefix) and sk.startswith(sk_prefix) for pk, sk in map(keys, entries))

    return matches


@contextmanager
def lose_dynamodb_answers(matches: AnswerMatcher, times: int = 1) -> Iterator[LostAnswers]:
    """Within the block, lose the answers of the first `times` matching DynamoDB requests after moto applied
    them. The adapters' cached clients are dropped on entry and exit, so that theirs are made with the handler."""
    from invoice_bridge.adapters.aws import reset_clients

    honour_client_request_tokens()
    answers = LostAnswers(matches, times)
    handler = ("before-send", answers.before_send)
    botocore.handlers.BUILTIN_HANDLERS.insert(0, handler)  # before moto's stubber, which answers
    reset_clients()
    try:
        yield answers
    finally:
        botocore.handlers.BUILTIN_HANDLERS.remove(handler)
        reset_clients()


@dataclass
class _Applied:
    parameters: str
    at: float


class ClientRequestTokens:
    """The transactions applied per token (DynamoDB's idempotency window)."""

    def __init__(self, window: float = TOKEN_WINDOW_SECONDS) -> None:
        self.window = window
        self._applied: dict[str, _Applied] = {}
        self.lock = threading.Lock()

    def seen(self, token: str, parameters: str) -> bool:
        """True when `token` was applied within the window (the retry is answered, not applied again);
        IdempotentParameterMismatchException when it was applied with other parameters."""
        from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException

        now = time.monotonic()
        self._applied = {t: a for t, a in self._applied.items() if now - a.at < self.window}
        applied = self._applied.get(token)
        if applied is None:
            return False
        if applied.parameters != parameters:
            raise DynamodbException(
                ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException",
                "Request parameters do not match the request that first used this ClientRequestToken",
            )
        return True

    def applied(self, token: str, parameters: str) -> None:
        self._applied[token] = _Applied(parameters, time.monotonic())


TOKENS = ClientRequestTokens()


def honour_client_request_tokens() -> None:
    """Make moto's TransactWriteItems honour `ClientRequestToken` as DynamoDB does (idempotent per token)."""
    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.transact_write_items
    if getattr(original, "honours_tokens", False):
        return

    def transact_write_items(self: DynamoHandler) -> ActionResult:
        token = self.body.get("ClientRequestToken")
        if token is None:
            return original(self)
        parameters = json.dumps({k: v for k, v in self.body.items() if k != "ClientRequestToken"}, sort_keys=True,
                                default=repr)  # binary attributes arrive as bytes
        with TOKENS.lock:  # one transaction per token at a time, as DynamoDB (TransactionInProgressException)
            if TOKENS.seen(token, parameters):
                return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
            result = original(self)
            TOKENS.applied(token, parameters)
            return result

    transact_write_items.honours_tokens = True  # type: ignore[attr-defined]
    DynamoHandler.transact_write_items = transact_write_items  # type: ignore[method-assign]
