"""A faithful local Spiris (Visma eAccounting): identity server, API v2 subset, control routes.

    from sandbox.spiris import serve, SpirisSandboxConfig, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    server, base_url = serve()            # threaded werkzeug server in a daemon thread, free port
    ...                                   # identity: base_url + "/connect/...", API: base_url + "/v2/..."
    server.shutdown()

The default client (`DEFAULT_CLIENT_ID` / `DEFAULT_CLIENT_SECRET`) accepts any http(s) redirect URI;
register stricter ones with `SpirisSandboxConfig(clients=[...])` or `POST /_sandbox/clients`.
"""

from .app import create_app, sandbox_state, serve
from .config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxClient, SpirisSandboxConfig

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "SandboxClient",
    "SpirisSandboxConfig",
    "create_app",
    "sandbox_state",
    "serve",
]
