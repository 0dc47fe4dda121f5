"""`python -m sandbox.serve`: run the embedded stack in the foreground until SIGINT/SIGTERM.

`.local/stack.json` is written once every part answers over HTTP, and removed again on a clean stop.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from .stack import LocalStack, default_template

log = logging.getLogger("sandbox.serve")


def answers(url: str, timeout: float = 10.0) -> bool:
    """True once `url` gives any HTTP answer (a 4xx is an answer too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - local URLs only
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.1)
    return False


def wait_until_answering(stack: LocalStack) -> None:
    probes = {
        "api": f"{stack.api_url}/_local/mail",
        "aws": f"{stack.aws_endpoint_url}/moto-api/",
        "spiris": f"{stack.spiris_url}/" if stack.spiris_url else None,
        "operator": f"{stack.operator_url}/" if stack.operator_url else None,
    }
    for name, url in probes.items():
        if url and not answers(url):
            raise RuntimeError(f"{name} does not answer at {url}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.serve", description=__doc__)
    parser.add_argument("--template", default=str(default_template()))
    parser.add_argument("--stack-json", default=".local/stack.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    stack_json = Path(args.stack_json)
    with LocalStack(args.template) as stack:
        wait_until_answering(stack)
        stack.write_stack_json(stack_json)
        print(f"embedded stack up; api {stack.api_url}; details in {stack_json}", flush=True)
        if stack.console_url:
            print(f"the office's console: {stack.console_url} (its users are in {stack_json})", flush=True)
        try:
            while not stopping.wait(0.5):
                pass
        finally:
            stack_json.unlink(missing_ok=True)
    print("embedded stack stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
