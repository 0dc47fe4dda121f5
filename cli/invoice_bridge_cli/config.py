"""Where the CLI connects and how it authenticates. The only module of the CLI that reads the environment."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_STACK_JSON = Path(".local") / "stack.json"
SIGV4_SERVICE = "execute-api"


class ConfigError(Exception):
    """The command line cannot tell where or how to connect: a usage error (exit 2)."""


@dataclass(frozen=True)
class Connection:
    api_url: str
    admin_token: str | None = None  # embedded stack: `Authorization: Bearer …`
    sigv4_region: str | None = None  # deployed stack: SigV4 for execute-api in this region

    def __repr__(self) -> str:  # never show the token, e.g. in a traceback
        return f"Connection(api_url={self.api_url!r}, sigv4_region={self.sigv4_region!r})"


def _read_stack_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path} not found: start the embedded stack with `make serve`, pass --stack PATH, "
            f"or use --api-url URL --sigv4 for a deployed stack"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} could not be read as JSON: {exc.__class__.__name__}") from None
    if not isinstance(data, dict) or not data.get("api_url"):
        raise ConfigError(f"{path} has no api_url")
    return data


def resolve_connection(
    *,
    stack: str | None,
    api_url: str | None,
    sigv4: bool,
    region: str | None,
    environ: dict[str, str] | None = None,
) -> Connection:
    """--api-url/--sigv4 for a deployed stack, else the embedded stack's stack.json (contract.md §2)."""
    env = os.environ if environ is None else environ
    if sigv4:
        if not api_url:
            raise ConfigError("--sigv4 needs --api-url (the deployed stack's API URL)")
        signing_region = region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if not signing_region:
            raise ConfigError("--sigv4 needs a region: pass --region or set AWS_REGION")
        return Connection(api_url=api_url.rstrip("/"), sigv4_region=signing_region)
    data = _read_stack_json(Path(stack) if stack else DEFAULT_STACK_JSON)
    token = data.get("admin_token")
    if not token:
        raise ConfigError("stack.json has no admin_token")
    return Connection(api_url=(api_url or data["api_url"]).rstrip("/"), admin_token=str(token))


def aws_credentials() -> Any:
    """The caller's AWS credentials (environment, profile, SSO, instance role), as boto3 finds them."""
    import boto3

    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise ConfigError("--sigv4: no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/…)")
    return credentials
