"""Flask app factory and an in-process threaded server for the Spiris sandbox."""

from __future__ import annotations

import copy
import threading

from flask import Flask, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .api import api_blueprint, temp_file_blueprint, template_of
from .config import SpirisSandboxConfig
from .control import control_blueprint
from .identity import identity_blueprint
from .state import SandboxState


def create_app(config: SpirisSandboxConfig | None = None) -> Flask:
    # A copy: /_sandbox/config changes one app's settings, never the caller's object or another app's.
    state = SandboxState(copy.deepcopy(config) if config is not None else SpirisSandboxConfig())
    app = Flask("spiris_sandbox")
    app.extensions["spiris_sandbox_state"] = state

    @app.before_request
    def count_request() -> None:
        if request.path.startswith("/_sandbox"):
            return
        rule = request.url_rule
        state.count_request(request.method, template_of(rule.rule) if rule is not None else request.path)

    app.register_blueprint(identity_blueprint(state))
    app.register_blueprint(api_blueprint(state))
    app.register_blueprint(temp_file_blueprint(state))
    app.register_blueprint(control_blueprint(state))
    return app


def sandbox_state(app: Flask) -> SandboxState:
    return app.extensions["spiris_sandbox_state"]


class RedactingRequestHandler(WSGIRequestHandler):
    """Access log without query strings or temp-file ids: they carry codes, state and capability URLs."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        if path.startswith("/temp/fileanonymous/"):
            path = "/temp/fileanonymous/{file_id}"
        self.log("info", '"%s %s %s" %s %s', self.command, path, self.request_version, code, size)


def serve(
    host: str = "127.0.0.1", port: int = 0, config: SpirisSandboxConfig | None = None
) -> tuple[BaseWSGIServer, str]:
    """Run the sandbox on a threaded werkzeug server in a daemon thread; port 0 picks a free port.

    Stop it with `server.shutdown()`. The app is reachable as `server.app`.
    """
    app = create_app(config)
    server = make_server(host, port, app, threaded=True, request_handler=RedactingRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="spiris-sandbox", daemon=True)
    thread.start()
    return server, f"http://{host}:{server.server_port}"
