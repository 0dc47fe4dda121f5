"""IAM identity-policy evaluation, as AWS does it for one principal: explicit Deny wins, then an Allow,
else the implicit deny.

Covers what identity policies of this project (and SAM's policy templates) use: Action / NotAction and
Resource / NotResource with `*` and `?` wildcards, and Condition blocks with the string, ARN, Bool,
Null and numeric operators, their `IfExists` forms and the `ForAllValues:` / `ForAnyValue:` set
qualifiers. An operator it does not know, or a policy variable (`${aws:username}`), is refused when the
policy is loaded: a check that silently ignored part of a policy would be kinder than AWS.

Semantics follow the IAM reference ("Condition operators", "Multivalued context keys"):
- a single-valued key missing from the request makes a condition false, except for `...IfExists`
  (true) and the negated operators (`StringNotEquals`, `ArnNotLike`, ...: true);
- `ForAllValues:` is true when every request value matches one of the policy's values, and also when
  the key is missing or empty (the well-known pitfall: use it only with actions that always set it);
- `ForAnyValue:` is true when at least one request value matches, false when the key is missing;
- several values for one key are OR, several keys or operators are AND.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

ContextValue = str | Sequence[str]
Context = Mapping[str, ContextValue]


class PolicyError(ValueError):
    """A policy the evaluator cannot evaluate faithfully (unknown operator, policy variable...)."""


@dataclass(frozen=True)
class Request:
    """One authorization AWS makes for a call: an action on a resource, with the request's context keys."""

    action: str  # "dynamodb:GetItem"
    resource: str  # an ARN, or "*" for actions without resource-level permissions
    context: Context = field(default_factory=dict)  # keys lower-cased by `context_of`


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit_deny: bool = False
    statement: str | None = None  # Sid (or index) of the deciding statement


@lru_cache(maxsize=4096)
def _glob(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.compile(fnmatch.translate(pattern), flags | re.DOTALL)


def wildcard_match(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    """IAM wildcards: `*` any run of characters (also `/` and `:`), `?` exactly one."""
    if "*" not in pattern and "?" not in pattern:
        return pattern == value if case_sensitive else pattern.lower() == value.lower()
    return _glob(pattern, case_sensitive).match(value) is not None


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- condition operators -------------------------------------------------------------------------

Matcher = Callable[[str, str], bool]  # (request value, policy value) → match


def _numeric(compare: Callable[[float, float], bool]) -> Matcher:
    def match(actual: str, expected: str) -> bool:
        try:
            return compare(float(actual), float(expected))
        except ValueError:
            return False

    return match


_MATCHERS: dict[str, Matcher] = {
    "stringequals": lambda a, e: a == e,
    "stringequalsignorecase": lambda a, e: a.lower() == e.lower(),
    "stringlike": lambda a, e: wildcard_match(e, a),
    "arnequals": lambda a, e: a == e,
    "arnlike": lambda a, e: wildcard_match(e, a),
    "bool": lambda a, e: a.lower() == e.lower(),
    "numericequals": _numeric(lambda a, e: a == e),
    "numericlessthan": _numeric(lambda a, e: a < e),
    "numericlessthanequals": _numeric(lambda a, e: a <= e),
    "numericgreaterthan": _numeric(lambda a, e: a > e),
    "numericgreaterthanequals": _numeric(lambda a, e: a >= e),
}
_NEGATED = {
    "stringnotequals": "stringequals",
    "stringnotequalsignorecase": "stringequalsignorecase",
    "stringnotlike": "stringlike",
    "arnnotequals": "arnequals",
    "arnnotlike": "arnlike",
    "numericnotequals": "numericequals",
}


@dataclass(frozen=True)
class Condition:
    """One `Operator: {key: values}` pair of a Condition block."""

    qualifier: str | None  # "forallvalues" | "foranyvalue" | None
    operator: str  # lower case, without qualifier and IfExists
    if_exists: bool
    key: str  # lower case
    values: tuple[str, ...]

    @classmethod
    def parse(cls, operator: str, key: str, values: Any) -> Condition:
        prefix, _, name = operator.rpartition(":")
        qualifier = prefix.lower() or None
        if qualifier not in (None, "forallvalues", "foranyvalue"):
            raise PolicyError(f"unknown condition set qualifier {operator!r}")
        name = name.lower()
        if_exists = name.endswith("ifexists") and name != "ifexists"
        if if_exists:
            name = name[: -len("ifexists")]
        if name != "null" and name not in _MATCHERS and name not in _NEGATED:
            raise PolicyError(f"condition operator {operator!r} is not supported by the sandbox")
        texts = tuple(_text(v) for v in _as_list(values))
        if any("${" in t for t in texts):
            raise PolicyError(f"policy variables are not supported by the sandbox: {key}={texts}")
        return cls(qualifier, name, if_exists, key.lower(), texts)

    def holds(self, context: Context) -> bool:
        present = self.key in context
        if self.operator == "null":
            wants_missing = any(v.lower() == "true" for v in self.values)
            value = context.get(self.key)
            missing = not present or (not isinstance(value, str) and len(value or ()) == 0)
            return missing == wants_missing
        raw = context.get(self.key)
        actual = [raw] if isinstance(raw, str) else list(raw or [])
        negated = self.operator in _NEGATED
        matcher = _MATCHERS[_NEGATED.get(self.operator, self.operator)]

        def holds_for(value: str) -> bool:
            matched = any(matcher(value, expected) for expected in self.values)
            return matched != negated

        if self.qualifier == "forallvalues":
            return all(holds_for(v) for v in actual)  # vacuously true without values
        if not actual:
            # Missing key: false, but true for IfExists and for the negated operators.
            return self.if_exists or (negated and self.qualifier is None)
        if self.qualifier == "foranyvalue" or not negated:
            return any(holds_for(v) for v in actual)
        return all(holds_for(v) for v in actual)  # "not equal to any of them"


def conditions_of(block: Mapping[str, Any] | None) -> tuple[Condition, ...]:
    found: list[Condition] = []
    for operator, pairs in (block or {}).items():
        if not isinstance(pairs, Mapping):
            raise PolicyError(f"condition {operator!r} must map keys to values")
        found += [Condition.parse(operator, key, values) for key, values in pairs.items()]
    return tuple(found)


# --- statements and policies ---------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str  # "Allow" | "Deny"
    actions: tuple[str, ...]
    not_actions: bool
    resources: tuple[str, ...]
    not_resources: bool
    conditions: tuple[Condition, ...]

    @classmethod
    def parse(cls, raw: Mapping[str, Any], default_sid: str) -> Statement:
        effect = str(raw.get("Effect", ""))
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"statement {default_sid}: Effect must be Allow or Deny, not {effect!r}")
        if ("Action" in raw) == ("NotAction" in raw) or ("Resource" in raw) == ("NotResource" in raw):
            raise PolicyError(f"statement {default_sid}: needs Action or NotAction, and Resource or NotResource")
        actions = raw.get("Action", raw.get("NotAction"))
        resources = raw.get("Resource", raw.get("NotResource"))
        for value in _as_list(actions) + _as_list(resources):
            if not isinstance(value, str):
                raise PolicyError(f"statement {default_sid}: unresolved value {value!r}")
        return cls(
            sid=str(raw.get("Sid") or default_sid),
            effect=effect,
            actions=tuple(_as_list(actions)),
            not_actions="NotAction" in raw,
            resources=tuple(_as_list(resources)),
            not_resources="NotResource" in raw,
            conditions=conditions_of(raw.get("Condition")),
        )

    def applies_to(self, request: Request) -> bool:
        action_listed = any(wildcard_match(a, request.action, case_sensitive=False) for a in self.actions)
        if action_listed == self.not_actions:
            return False
        resource_listed = any(wildcard_match(r, request.resource) for r in self.resources)
        if resource_listed == self.not_resources:
            return False
        return all(c.holds(request.context) for c in self.conditions)


@dataclass(frozen=True)
class PolicySet:
    """Every statement of one principal's identity policies (inline and managed together)."""

    statements: tuple[Statement, ...]

    @classmethod
    def parse(cls, documents: Iterable[tuple[str, Mapping[str, Any]]]) -> PolicySet:
        """`documents`: (policy name, policy document) pairs."""
        statements: list[Statement] = []
        for name, document in documents:
            for index, raw in enumerate(_as_list(document.get("Statement", []))):
                statements.append(Statement.parse(raw, f"{name}#{index}"))
        return cls(tuple(statements))

    def decide(self, request: Request) -> Decision:
        allowed_by: str | None = None
        for statement in self.statements:
            if not statement.applies_to(request):
                continue
            if statement.effect == "Deny":
                return Decision(False, explicit_deny=True, statement=statement.sid)
            allowed_by = allowed_by or statement.sid
        return Decision(allowed_by is not None, statement=allowed_by)


def context_of(values: Mapping[str, ContextValue | None]) -> dict[str, ContextValue]:
    """A request context with lower-cased keys (condition keys are case-insensitive); None drops a key."""
    return {key.lower(): value for key, value in values.items() if value is not None}
