"""A moto server on loopback whose DynamoDB requests are atomic.

Moto's DynamoDB backend checks a condition and then writes without a lock; real DynamoDB does both
atomically. Conditional writes are how we serialise token refreshes and delivery transitions, so the
embedded stack serves DynamoDB requests one at a time (other services, e.g. SQS long polls, stay
concurrent).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any


def _dynamodb_serialised(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    lock = threading.Lock()

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with lock:
                return list(app(environ, start_response))
        return list(app(environ, start_response))

    return wsgi


class AtomicMotoServer:
    """Start/stop a threaded moto server; `endpoint_url` once started."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        self._server = make_server(
            self.host,
            self.port,
            _dynamodb_serialised(DomainDispatcherApplication(create_backend_app)),
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
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
