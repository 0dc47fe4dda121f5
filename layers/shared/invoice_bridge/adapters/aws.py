"""Cached boto3 clients. Nothing is created at import time: moto (tests) or the Lambda runtime
must be in place before the first call. Endpoints come from boto3's own `AWS_ENDPOINT_URL`.

Every client and resource comes from one boto3 session per process: a new session parses botocore's
endpoint data and each service model again (~0.1 s of CPU per client, at every cold start), while the
clients of one session share what it parsed once."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import boto3
from botocore.config import Config

if TYPE_CHECKING:  # boto3-stubs (dev only): each service's client is typed
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sqs import SQSClient

_T = TypeVar("_T")
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=30)
# A boto3 session is not thread-safe; its clients are. Clients are made one at a time (the embedded stack
# runs handlers in threads; a Lambda container runs one at a time anyway).
_making = threading.Lock()


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@cache
def _client(service: str) -> Any:
    # `service` is any name here: boto3-stubs type only a literal service name; `client`'s overloads do.
    with _making:
        return _session().client(service, config=_CONFIG)  # type: ignore[call-overload]  # see above


@overload
def client(service: Literal["cognito-idp"]) -> CognitoIdentityProviderClient: ...
@overload
def client(service: Literal["kms"]) -> KMSClient: ...
@overload
def client(service: Literal["s3"]) -> S3Client: ...
@overload
def client(service: Literal["sqs"]) -> SQSClient: ...
def client(service: str) -> Any:
    """The service's client with standard retries, built once per process."""
    return _client(service)


def parameter_store_client() -> Any:
    """SSM's client (untyped: the project carries no SSM stubs), for Powertools' `SSMProvider`, which would
    otherwise make a session of its own for each provider."""
    return _client("ssm")


@cache
def single_attempt_client(service: Literal["sesv2"], read_timeout: float = 30.0) -> SESV2Client:
    """A client that makes each call exactly once: for calls that are not idempotent (SES SendEmail),
    where an SDK retry after a lost answer would repeat the effect. The caller decides what a failure means."""
    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=read_timeout)
    with _making:
        return _session().client(service, config=config)


@cache
def resource(service: Literal["dynamodb"]) -> Any:
    # Untyped on purpose: the stubs type every item attribute as a union of all DynamoDB types, and the
    # adapters validate items into the domain's pydantic models anyway.
    with _making:
        return _session().resource(service, config=_CONFIG)


@cache
def table(name: str) -> Any:
    """The DynamoDB `Table` resource of `name`. Built once: boto3 builds a resource class from its JSON
    definition for every `Table(...)` call, which cost more CPU than the request it was made for."""
    return resource("dynamodb").Table(name)


class TableAdapter:
    """A base for the adapters of the stack's one DynamoDB table: `_table` is its resource (built once per
    process by `table`, looked up when used, so constructing an adapter makes no client)."""

    def __init__(self, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return table(self._table_name)


def query_all(dynamo_table: Any, **query: Any) -> Iterator[dict[str, Any]]:
    """Every item a DynamoDB query matches, page after page."""
    while True:
        page = dynamo_table.query(**query)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def bounded_chunks(items: Iterable[_T], size_of: Callable[[_T], int], *, most: int, bytes_: int) -> Iterator[list[_T]]:
    """`items` in order, in chunks of at most `most` items and `bytes_` of `size_of` (an item larger than
    `bytes_` alone): what a batch or transaction request takes (SendMessageBatch, TransactWriteItems)."""
    chunk: list[_T] = []
    size = 0
    for item in items:
        item_size = size_of(item)
        if chunk and (len(chunk) == most or size + item_size > bytes_):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk:
        yield chunk


def retry_pause(attempt: int, *, base: float = 0.05, cap: float = 2.0) -> float:
    """The pause before our own retry of part of a request (unprocessed keys, failed batch entries):
    exponential with full jitter, as AWS advises, so that retries of many workers do not line up."""
    return random.uniform(0, min(cap, base * 2**attempt))  # noqa: S311 - jitter, not a secret


def reset_clients() -> None:
    """Forget cached clients and their session (tests switch between moto backends and credentials)."""
    _session.cache_clear()
    _client.cache_clear()
    single_attempt_client.cache_clear()
    resource.cache_clear()
    table.cache_clear()
