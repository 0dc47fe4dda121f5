"""Who is calling AWS right now, and may they?

The embedded stack runs every handler inside `running_as(function)`: a context variable names the
function, and the botocore plugin (`sandbox.iam.plugin`, loaded into every client through
BOTOCORE_EXPERIMENTAL__PLUGINS) checks each call against that function's role before it is sent.
Threads a handler starts run as the same function. Calls outside any function (the stack's own set-up,
test fixtures) are not restricted, as the sandbox is the account's administrator.

`acting_as("DispatchFunction", authorizer)` runs test code under a function's policy (integration
tests that call domain code directly on `mock_aws`).
"""

from __future__ import annotations

import collections
import contextvars
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .calls import authorizations
from .facts import MotoFacts
from .policy import PolicySet, Request
from .roles import resolve_roles, template_roles

if TYPE_CHECKING:
    from ..aws import LocalAws

PLUGIN = "invoice_bridge_iam=sandbox.iam.plugin"
PLUGIN_VARIABLE = "BOTOCORE_EXPERIMENTAL__PLUGINS"


@dataclass(frozen=True)
class Denial:
    principal_arn: str
    request: Request
    explicit: bool

    @property
    def message(self) -> str:
        action, resource = self.request.action, self.request.resource
        why = ("with an explicit deny in an identity-based policy" if self.explicit
               else f"because no identity-based policy allows the {action} action")
        return f"User: {self.principal_arn} is not authorized to perform: {action} on resource: {resource} {why}"


class Authorizer:
    """The roles of one deployment's functions and the facts to evaluate calls against them."""

    def __init__(self, policies: Mapping[str, PolicySet], role_names: Mapping[str, str], facts: MotoFacts,
                 log_denials: bool = True):
        self.log_denials = log_denials
        # (function, action, resource, deciding statement or "DENIED") → count; see `write_audit`.
        self.audit: collections.Counter[tuple[str, str, str, str]] | None = None
        self.denials: list[Denial] = []  # every refusal, in order (tests assert there was none)
        self.policies = dict(policies)
        self.role_names = dict(role_names)
        self.facts = facts

    @classmethod
    def for_deployment(cls, aws: LocalAws, parameters: Mapping[str, Any] | None = None) -> Authorizer:
        """Every function of `aws.template`, with its role's policies resolved to `aws`'s resources."""
        from ..aws import ACCOUNT_ID, STACK_NAME

        specs = template_roles(aws.template, parameters or {})
        return cls(
            resolve_roles(specs, aws.resolve),
            {function: f"{STACK_NAME}-{spec.role}" for function, spec in specs.items()},
            MotoFacts(ACCOUNT_ID, aws.region),
        )

    def principal_arn(self, function: str) -> str:
        return f"arn:aws:sts::{self.facts.account}:assumed-role/{self.role_names[function]}/{function}"

    def check(self, function: str, requests: list[Request]) -> Denial | None:
        """The first request `function`'s role does not allow, or None when all are allowed."""
        policy = self.policies[function]
        for request in requests:
            decision = policy.decide(request)
            if self.audit is not None:
                self.audit[(function, request.action, request.resource, decision.statement or "DENIED")] += 1
            if not decision.allowed:
                denial = Denial(self.principal_arn(function), request, decision.explicit_deny)
                self.denials.append(denial)
                return denial
        return None

    def write_audit(self, path: str | Path) -> None:
        """Every authorization made since `audit` was set, as JSON lines (least-privilege reviews)."""
        rows = [{"function": f, "action": a, "resource": r, "statement": s, "count": n}
                for (f, a, r, s), n in sorted((self.audit or {}).items())]
        Path(path).write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")

    def check_call(self, function: str, service: str, operation: str, params: Mapping[str, Any]) -> Denial | None:
        return self.check(function, authorizations(service, operation, params, self.facts))


@dataclass(frozen=True)
class Principal:
    function: str
    authorizer: Authorizer | None  # None: the stack runs without IAM (no authorizer installed)


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("sandbox_iam_principal", default=None)
_installed: Authorizer | None = None
_install_lock = threading.Lock()


def current_principal() -> Principal | None:
    return _current.get()


def install(authorizer: Authorizer) -> None:
    """Enforce `authorizer` for every function the stack runs (one stack per process)."""
    global _installed
    with _install_lock:
        _installed = authorizer
    _inherit_principal_in_threads()


def uninstall(authorizer: Authorizer) -> None:
    global _installed
    with _install_lock:
        if _installed is authorizer:
            _installed = None


def installed() -> Authorizer | None:
    return _installed


@contextmanager
def _as(principal: Principal) -> Iterator[Principal]:
    token = _current.set(principal)
    try:
        yield principal
    finally:
        _current.reset(token)


def running_as(function: str) -> AbstractContextManager[Principal]:
    """The stack's handlers: run as `function` under the installed authorizer (if any)."""
    return _as(Principal(function, _installed))


def acting_as(function: str, authorizer: Authorizer | None = None) -> AbstractContextManager[Principal]:
    """Run the block with `function`'s permissions only (the installed stack's, or `authorizer`'s)."""
    chosen = authorizer or _installed
    if chosen is None:
        raise RuntimeError("no IAM authorizer: start a LocalStack or pass Authorizer.for_deployment(...)")
    if function not in chosen.policies:
        raise KeyError(f"{function} is not a function of the template ({', '.join(sorted(chosen.policies))})")
    _inherit_principal_in_threads()
    return _as(Principal(function, chosen))


# --- threads a handler starts run as the same function ------------------------------------------

_original_start = threading.Thread.start
_patched = False


def _start_as_current(self: threading.Thread) -> None:
    principal = _current.get()
    if principal is not None:
        run = self.run

        def run_as() -> None:
            _current.set(principal)
            run()

        self.run = run_as  # type: ignore[method-assign]
    _original_start(self)


def _inherit_principal_in_threads() -> None:
    """Thread.start copies the starter's principal into the new thread (contextvars are not inherited):
    a handler that hands work to a thread never escapes its role."""
    global _patched
    with _install_lock:
        if not _patched:
            threading.Thread.start = _start_as_current  # type: ignore[method-assign]
            _patched = True
