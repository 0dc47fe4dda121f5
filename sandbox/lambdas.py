"""Load the template's Lambda handlers into this process and call them with a Lambda-like context."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import ModuleType
from typing import Any

from . import iam
from .aws import ACCOUNT_ID, REGION
from .template import Function, Template

Handler = Callable[[dict[str, Any], Any], Any]

# The logical id of the function whose handler runs in this context (None outside every handler), so
# that what a handler does in-process (its AWS calls) can be told apart by function, as AWS can.
current_function: ContextVar[str | None] = ContextVar("current_function", default=None)


@contextmanager
def running(logical_id: str) -> Iterator[None]:
    """Mark the code in the block as `logical_id`'s handler (Handlers.invoke does it for every call)."""
    token = current_function.set(logical_id)
    try:
        yield
    finally:
        current_function.reset(token)


@contextmanager
def _container(name: str) -> Iterator[None]:
    """The shared package's caches are per container (invoice_bridge.wiring.container)."""
    try:
        from invoice_bridge import wiring
    except ImportError:  # the shared package is optional for the sandbox's own tests
        yield
        return
    token = wiring.container.set(name)
    try:
        yield
    finally:
        wiring.container.reset(token)


@contextmanager
def _own_log_keys(context: LambdaContext) -> Iterator[None]:
    """Every function of the service logs through one Logger (invoice_bridge.observability), and
    `inject_lambda_context` writes the function's name into that one, shared formatter; in Lambda a
    process is one function, here it is all of them at once. Keys of this context (Powertools' thread-safe
    keys, which win over the shared ones) keep each function's lines under its own name."""
    try:
        from invoice_bridge.observability import logger
    except ImportError:  # the shared package is optional for the sandbox's own tests
        yield
        return
    keys = {
        "function_name": context.function_name,
        "function_memory_size": context.memory_limit_in_mb,
        "function_arn": context.invoked_function_arn,
        "function_request_id": context.aws_request_id,
    }
    logger.thread_safe_append_keys(**keys)
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(keys)


class LambdaContext:
    """The attributes of the Python runtime's context object that handlers and Powertools read."""

    def __init__(self, function: Function) -> None:
        self.function_name = function.logical_id
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function.logical_id}"
        self.memory_limit_in_mb = function.memory_size
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.logical_id}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + function.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Handlers:
    """`functions/<dir>/app.py` modules loaded by file path, one module per function instance.

    Every function's module is called `app`, so each is loaded under a unique module name; the
    function's own directory goes first on sys.path while it loads, as the Lambda runtime does.

    Like warm Lambda instances: an instance handles one event at a time (Powertools resolvers keep the
    current event in module state), and a function gets up to `concurrency(function)` instances (1
    unless raised with `set_concurrency`), each its own copy of the module, created on demand.
    """

    def __init__(self, template: Template) -> None:
        self.template = template
        self._loaded: dict[tuple[str, int], Handler] = {}
        self._lock = threading.Lock()
        self._slots = threading.Condition()
        self._concurrency = {logical_id: 1 for logical_id in template.functions}
        self._free: dict[str, list[int]] = {logical_id: [] for logical_id in template.functions}
        self._created = {logical_id: 0 for logical_id in template.functions}

    def set_concurrency(self, logical_id: str, instances: int) -> None:
        with self._slots:
            self._concurrency[logical_id] = max(1, instances, self._concurrency[logical_id])

    def concurrency(self, logical_id: str) -> int:
        return self._concurrency[logical_id]

    def get(self, logical_id: str, instance: int = 0) -> Handler:
        with self._lock:
            key = (logical_id, instance)
            if key not in self._loaded:
                self._loaded[key] = self._load(self.template.functions[logical_id], instance)
            return self._loaded[key]

    def _load(self, function: Function, instance: int = 0) -> Handler:
        module_name, _, attr = function.handler.rpartition(".")
        code_dir = (self.template.root / function.code_uri).resolve()
        source = code_dir / (module_name.replace(".", "/") + ".py")
        if not source.is_file():
            raise FileNotFoundError(f"{function.logical_id}: handler source {source} not found")
        unique = f"_lambda_{function.logical_id}_{module_name.replace('.', '_')}"
        if instance:
            unique += f"_{instance}"
        spec = importlib.util.spec_from_file_location(unique, source)
        assert spec is not None and spec.loader is not None
        module: ModuleType = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        sys.path.insert(0, str(code_dir))
        try:
            spec.loader.exec_module(module)
        finally:
            if sys.path and sys.path[0] == str(code_dir):
                sys.path.pop(0)
        return getattr(module, attr)  # type: ignore[no-any-return]

    def _take(self, logical_id: str) -> int:
        """A free instance of the function (the lowest, the warmest), a new one, or wait for one."""
        with self._slots:
            while True:
                free = self._free[logical_id]
                if free:
                    free.sort()
                    return free.pop(0)
                if self._created[logical_id] < self._concurrency[logical_id]:
                    self._created[logical_id] += 1
                    return self._created[logical_id] - 1
                self._slots.wait()

    def _give_back(self, logical_id: str, instance: int) -> None:
        with self._slots:
            self._free[logical_id].append(instance)
            self._slots.notify()

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        instance = self._take(logical_id)
        try:
            # As in Lambda, the code (its import too) runs with the function's role only, and in its own
            # container: no cache of another function (or instance) serves it.
            context = LambdaContext(self.template.functions[logical_id])
            with running(logical_id), iam.running_as(logical_id), _container(f"{logical_id}/{instance}"), \
                    _own_log_keys(context):
                handler = self.get(logical_id, instance)
                return handler(event, context)
        finally:
            self._give_back(logical_id, instance)
