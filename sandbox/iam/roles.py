"""Each function's execution role as the transformed template defines it: the inline policies (SAM's
policy templates already expanded into statements), the AWS managed policies SAM attaches
(AWSLambdaBasicExecutionRole, AWSXrayWriteOnlyAccess, AWSLambdaSQSQueueExecutionRole...) and any
AWS::IAM::Policy / ManagedPolicy resource attached to the role.

Policies stay unresolved here (intrinsics against the template's logical ids); `resolve_roles` turns
them into `PolicySet`s against the names and ARNs of one deployment (the embedded stack's moto).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..sam import cached_transform
from ..template import NO_VALUE, Template, logical_id_of
from .policy import PolicyError, PolicySet

MANAGED_POLICIES = Path(__file__).with_name("managed_policies.json")


@dataclass(frozen=True)
class RoleSpec:
    """One function's role, unresolved."""

    function: str
    role: str  # the role's logical id (SAM: `<Function>Role`)
    policies: tuple[tuple[str, Any], ...]  # (policy name, policy document with intrinsics)
    managed: tuple[Any, ...]  # managed policy ARNs (possibly intrinsics)


def _attached_policies(resources: Mapping[str, Any], role: str) -> list[tuple[str, Any]]:
    """AWS::IAM::Policy and ::ManagedPolicy resources whose Roles name `role`."""
    found = []
    for logical_id, resource in resources.items():
        if resource.get("Type") not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        props = resource.get("Properties") or {}
        if any(logical_id_of(r) == role for r in props.get("Roles") or []):
            found.append((logical_id, props["PolicyDocument"]))
    return found


def role_specs(transformed: Mapping[str, Any]) -> dict[str, RoleSpec]:
    """Every Lambda function's role in a transformed (plain CloudFormation) template."""
    resources: Mapping[str, Any] = transformed.get("Resources") or {}
    specs = {}
    for function, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        role_ref = (resource.get("Properties") or {}).get("Role")
        role = logical_id_of(role_ref) if isinstance(role_ref, dict) else None
        if role is None or resources.get(role, {}).get("Type") != "AWS::IAM::Role":
            raise PolicyError(f"{function}: role {role_ref!r} is not a role of this template; "
                              "the sandbox cannot know its permissions")
        props = resources[role].get("Properties") or {}
        inline = [(str(p.get("PolicyName")), p["PolicyDocument"]) for p in props.get("Policies") or []]
        specs[function] = RoleSpec(
            function=function,
            role=role,
            policies=tuple(inline + _attached_policies(resources, role)),
            managed=tuple(props.get("ManagedPolicyArns") or []),
        )
    return specs


def template_roles(template: Template, parameters: Mapping[str, Any]) -> dict[str, RoleSpec]:
    """The roles of `template`'s functions, from its (cached) SAM transform."""
    values = {**template.parameter_defaults(), **parameters}
    return role_specs(cached_transform(template.raw, {k: v for k, v in values.items() if v is not None}))


def _managed_documents() -> dict[str, Any]:
    documents = json.loads(MANAGED_POLICIES.read_text(encoding="utf-8"))
    documents.pop("_comment", None)
    return documents  # type: ignore[no-any-return]


def resolve_roles(specs: Mapping[str, RoleSpec], resolve: Callable[[Any], Any]) -> dict[str, PolicySet]:
    """PolicySets for every function, with intrinsics resolved by `resolve` (a deployment's values)."""
    managed = _managed_documents()
    resolved = {}
    for function, spec in specs.items():
        documents: list[tuple[str, Any]] = []
        for name, document in spec.policies:
            documents.append((name, _without_no_value(resolve(document))))
        for arn in spec.managed:
            text = str(resolve(arn))
            if text not in managed:
                raise PolicyError(f"{function}: managed policy {text} has no document in {MANAGED_POLICIES.name}")
            documents.append((text.rsplit("/", 1)[-1], managed[text]))
        resolved[function] = PolicySet.parse(documents)
    return resolved


def _without_no_value(value: Any) -> Any:
    """Drop `AWS::NoValue` (from `!If`) from lists and maps, as CloudFormation does."""
    if isinstance(value, list):
        return [_without_no_value(v) for v in value if v is not NO_VALUE]
    if isinstance(value, dict):
        return {k: _without_no_value(v) for k, v in value.items() if v is not NO_VALUE}
    return value
