"""A moto server on loopback whose DynamoDB requests are atomic, and whose SES can refuse as SES does.

Moto's DynamoDB backend checks a condition and then writes without a lock; real DynamoDB does both
atomically. Conditional writes are how we serialise token refreshes and delivery transitions, so the
embedded stack serves DynamoDB requests one at a time (other services, e.g. SQS long polls, stay
concurrent).

Moto's SES accepts every mail from a verified sender at once. `SesFaults` makes SendEmail (SES v2)
answer as the real service does under load or in trouble: one scripted answer per call, or, once the
script is used up, answers drawn at the configured rates (the soak's SES faults).

Moto's SQS enqueues every entry of a SendMessageBatch; SQS may fail single ones. `sqs_batch_faults`
(sandbox/sqs_faults.py) fails entries as it does.

Moto applies every DynamoDB write; DynamoDB refuses one whose item another transaction holds at that
moment. `dynamodb_conflicts` (sandbox/dynamodb_conflicts.py) scripts such refusals.
"""

from __future__ import annotations

import copy
import functools
import json
import random
import threading
import time
import urllib.parse
import xml.sax.saxutils
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .dynamodb_conflicts import DYNAMODB_CONFLICTS
from .dynamodb_conflicts import install as install_dynamodb_conflicts
from .lost_responses import honour_client_request_tokens
from .sqs_faults import SQS_BATCH_FAULTS
from .sqs_faults import install as install_sqs_batch_faults

# Held while moto serves a DynamoDB request; in-process readers of moto's tables (the soak's progress
# view) take it too, so they never see a table mid-write.
DYNAMODB_LOCK = threading.Lock()


def _dynamodb_serialised(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with DYNAMODB_LOCK:
                return list(app(environ, start_response))
        return list(app(environ, start_response))

    return wsgi


# SES v2 error answers: (HTTP status, error type, message), as botocore reads them (x-amzn-ErrorType).
SES_REFUSALS = {
    "throttle": (429, "TooManyRequestsException", "Maximum sending rate exceeded."),
    "paused": (400, "SendingPausedException", "Sending is paused for this account."),
    "reject": (400, "MessageRejected", "Email address is on the account-level suppression list."),
    "bad_request": (400, "BadRequestException", "Invalid email address."),
    "server_error": (500, "InternalFailure", "An internal error occurred."),
}
# After moto accepted the mail (it is sent): the answer is lost, as when SES sends and the reply fails.
SES_AFTER_ACCEPT = ("accept_then_fail", "accept_then_hang")
SEND_EMAIL_PATH = "/v2/email/outbound-emails"


@dataclass
class SesFaults:
    """Answers to SES v2 SendEmail: each scripted answer is used by one call, in order; when none is
    queued, an answer is drawn at `rates` (answer → probability per call, e.g. the soak's throttling,
    refusals and timeouts); otherwise moto answers. `sends` counts every SendEmail request that reached
    the server (an SDK retry is a request), `injected` the faults answered, by answer."""

    script: deque[str] = field(default_factory=deque)
    hang_seconds: float = 2.0
    sends: int = 0
    rates: dict[str, float] = field(default_factory=dict)
    injected: Counter[str] = field(default_factory=Counter)
    _random: random.Random = field(default_factory=random.Random)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def queue(self, *answers: str) -> None:
        _check_answers(answers)
        with self._lock:
            self.script.extend(answers)

    def set_rates(self, rates: dict[str, float], *, seed: int | None = None, hang_seconds: float | None = None) -> None:
        """Draw faults at these rates from now on (an empty dict: none)."""
        _check_answers(rates)
        if any(not 0 <= rate <= 1 for rate in rates.values()) or sum(rates.values()) > 1:
            raise ValueError(f"SES fault rates must be probabilities that sum to 1 at most, got {rates}")
        with self._lock:
            self.rates = dict(rates)
            if seed is not None:
                self._random.seed(seed)
            if hang_seconds is not None:
                self.hang_seconds = hang_seconds

    def next_answer(self) -> str | None:
        with self._lock:
            self.sends += 1
            answer = self.script.popleft() if self.script else self._draw()
            if answer is not None:
                self.injected[answer] += 1
            return answer

    def _draw(self) -> str | None:
        roll, floor = self._random.random(), 0.0
        for answer, rate in self.rates.items():
            floor += rate
            if roll < floor:
                return answer
        return None

    def reset(self) -> None:
        with self._lock:
            self.script.clear()
            self.rates.clear()
            self.injected.clear()
            self.sends = 0


def _check_answers(answers: Iterable[str]) -> None:
    unknown = set(answers) - set(SES_REFUSALS) - set(SES_AFTER_ACCEPT)
    if unknown:
        raise ValueError(f"unknown SES answers {sorted(unknown)}")


def _ses_with_faults(app: Callable[..., Iterable[bytes]], faults: SesFaults) -> Callable[..., Iterable[bytes]]:
    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != SEND_EMAIL_PATH or environ.get("REQUEST_METHOD") != "POST":
            return app(environ, start_response)
        answer = faults.next_answer()
        if answer in SES_REFUSALS:
            return _ses_error(start_response, answer)
        if answer == "accept_then_fail":
            list(app(environ, lambda *args, **kwargs: None))  # moto sends it; its answer is dropped
            return _ses_error(start_response, "server_error")
        if answer == "accept_then_hang":
            sent = list(app(environ, start_response))
            time.sleep(faults.hang_seconds)  # longer than the client waits: it never hears of the send
            return sent
        return app(environ, start_response)

    return wsgi


def _presigned_denials(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """A presigned URL its signer's role could not use (sandbox/iam/plugin.py marks it) is refused, as
    S3 refuses it when the URL is used."""
    from .iam.plugin import PRESIGN_DENIED_PARAMETER

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        if PRESIGN_DENIED_PARAMETER not in query:
            return app(environ, start_response)
        message = xml.sax.saxutils.escape(query[PRESIGN_DENIED_PARAMETER][0])
        body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code><Message>{message}</Message></Error>"
        start_response("403 Forbidden", [("Content-Type", "application/xml")])
        return [body.encode()]

    return wsgi


def _ses_error(start_response: Callable[..., Any], answer: str) -> list[bytes]:
    status, error_type, message = SES_REFUSALS[answer]
    body = json.dumps({"message": message}).encode()
    headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", error_type),
               ("Content-Length", str(len(body)))]
    start_response(f"{status} {error_type}", headers)
    return [body]


def install_item_level_transaction_backup() -> None:
    """Make moto's TransactWriteItems back up only the items it names, not whole tables.

    Moto deep-copies every table a transaction names before writing (to roll back on a failed
    condition): O(table size) per transaction, minutes of CPU at soak sizes. Items live only in
    `Table.items` (indexes are computed from them), so saving and restoring the named items gives the
    same all-or-nothing result. Safe because this server runs one DynamoDB request at a time.
    """
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = DynamoDBBackend.transact_write_items
    if getattr(original, "item_level_backup", False):
        return

    swap = threading.Lock()  # the class attribute below is swapped by one transaction at a time

    # `wraps` carries the markers of the wrappers below it (dynamodb_conflicts' `with_conflicts`), so that
    # neither is installed twice around the other: a second backup would delete the first's swap.
    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with swap:
            _transact(self, transact_items)

    def _transact(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved: list[tuple[Any, Any, Any, Any]] = []
        for entry in transact_items:
            for op_type, op in entry.items():
                try:
                    table = self.get_table(op["TableName"])
                    attrs = op["Item"] if op_type == "Put" else op["Key"]
                    hash_key = DynamoType(attrs[table.hash_key_attr])
                    range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
                    current = table.get_item(hash_key, range_key)
                except Exception:  # noqa: BLE001 - malformed: moto's own validation answers it below
                    continue
                saved.append((table, hash_key, range_key, copy.deepcopy(current)))
        Table.__deepcopy__ = lambda table, memo: table  # moto's whole-table backup becomes a no-op
        try:
            original(self, transact_items)
        except BaseException:
            for table, hash_key, range_key, item in reversed(saved):
                table.delete_item(hash_key, range_key)
                if item is not None and range_key is not None:
                    table.items[hash_key][range_key] = item
                elif item is not None:
                    table.items[hash_key] = item
            raise
        finally:
            del Table.__deepcopy__

    transact_write_items.item_level_backup = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _query_without_presort() -> None:
    """Moto's Query starts from `Table.all_items()`, which sorts the whole table, then keeps the matching
    items and sorts those again (by the index's keys, or the range key): the first sort is wasted, and
    it is O(n log n) of the table for every page of every query. Query gets the items unsorted; its
    own sort still orders the result (on the full key, so ties cannot reorder it)."""
    from moto.dynamodb.models.table import Table

    original = Table.query
    if getattr(original, "without_presort", False):
        return
    swap = threading.Lock()

    def unsorted(table: Any) -> list[Any]:
        if table.range_key_attr:
            return [item for items in table.items.values() for item in items.values()]
        return list(table.items.values())

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        with swap:
            self.all_items = lambda: unsorted(self)
            try:
                return original(self, *args, **kwargs)
            finally:
                del self.all_items

    query.without_presort = True  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]


class AtomicMotoServer:
    """Start/stop a threaded moto server; `endpoint_url` once started. `ses_faults` scripts SendEmail."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.ses_faults = SesFaults()
        self.sqs_batch_faults = SQS_BATCH_FAULTS
        self.dynamodb_conflicts = DYNAMODB_CONFLICTS
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        install_item_level_transaction_backup()
        _query_without_presort()
        honour_client_request_tokens()
        install_sqs_batch_faults()
        install_dynamodb_conflicts()
        self._server = make_server(
            self.host,
            self.port,
            _presigned_denials(
                _dynamodb_serialised(_ses_with_faults(DomainDispatcherApplication(create_backend_app), self.ses_faults))
            ),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()
        return self.endpoint_url

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self._server.server_port}"

    def stop(self) -> None:
        self.sqs_batch_faults.reset()  # the process's: another stack or test starts without faults
        self.dynamodb_conflicts.reset()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
