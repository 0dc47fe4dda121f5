"""Policy statements of a template's functions, and the template without one of them: the IAM
mutation run (scripts/iam_mutation.py) removes each in turn to see whether a test notices."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Mutation:
    function: str
    policy: int  # index in Policies
    statement: int | None  # index in the entry's Statement list; None: the whole entry (a policy template)
    label: str  # Sid, or the policy template and its argument

    @property
    def name(self) -> str:
        where = f"Policies[{self.policy}]" + (f".Statement[{self.statement}]" if self.statement is not None else "")
        return f"{self.function}.{where} {self.label}"


def _label(entry: Any, statement: dict[str, Any] | None) -> str:
    if statement is not None:
        return str(statement.get("Sid") or f"{statement.get('Action')}")
    if isinstance(entry, dict):
        ((template, args),) = entry.items()
        argument = json.dumps(args, sort_keys=True) if args else ""
        return f"{template} {argument}".strip()
    return str(entry)  # a managed policy name or ARN


def mutations(template: dict[str, Any]) -> list[Mutation]:
    found = []
    for function, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for index, entry in enumerate((resource.get("Properties") or {}).get("Policies") or []):
            statements = entry.get("Statement") if isinstance(entry, dict) and "Statement" in entry else None
            if statements is None:
                found.append(Mutation(function, index, None, _label(entry, None)))
                continue
            for number, statement in enumerate(statements if isinstance(statements, list) else [statements]):
                found.append(Mutation(function, index, number, _label(entry, statement)))
    return found


def mutate(template: dict[str, Any], mutation: Mutation, root: Path) -> dict[str, Any]:
    """The template without the mutation's statement; code paths made absolute against `root` (the
    original template's folder), so the mutated one can be written anywhere."""
    changed = copy.deepcopy(template)
    policies = changed["Resources"][mutation.function]["Properties"]["Policies"]
    entry = policies[mutation.policy]
    if mutation.statement is None or len(entry["Statement"]) == 1:
        del policies[mutation.policy]
    else:
        del entry["Statement"][mutation.statement]
    for resource in changed["Resources"].values():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = str((root / properties[key]).resolve()) + "/"
    return changed


def write_template(template: dict[str, Any], path: Path) -> Path:
    """A template as JSON (YAML's subset, which samtranslator, cfn-lint and sandbox.template all read)."""
    path.write_text(json.dumps(template, indent=1), encoding="utf-8")
    return path
