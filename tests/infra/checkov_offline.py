"""Runs checkov with every network connection refused, and says on stderr when checkov tried one.

checkov calls out by default (the Prisma Cloud guideline mapping, a PyPI version check); the test sets
the switches that turn those off (BC_SKIP_MAPPING, CKV_SKIP_PACKAGE_UPDATE_CHECK, --skip-download) and
this wrapper proves they held: any DNS lookup or connect is refused and reported as `NETWORK ATTEMPT`.
Usage: python checkov_offline.py <checkov arguments>
"""

from __future__ import annotations

import socket
import sys
from typing import Any

NETWORK_ATTEMPT = "NETWORK ATTEMPT"


def _refuse_connect(self: socket.socket, address: Any) -> None:
    sys.stderr.write(f"{NETWORK_ATTEMPT}: connect {address}\n")
    raise OSError("network disabled for checkov")


def _refuse_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
    sys.stderr.write(f"{NETWORK_ATTEMPT}: lookup {host}\n")
    raise socket.gaierror("network disabled for checkov")


def main() -> int:
    socket.socket.connect = _refuse_connect  # type: ignore[method-assign]
    socket.getaddrinfo = _refuse_lookup
    from checkov.main import Checkov

    return int(Checkov(argv=sys.argv[1:]).run() or 0)


if __name__ == "__main__":
    sys.exit(main())
