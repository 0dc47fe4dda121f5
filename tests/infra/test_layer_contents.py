"""The shared layer holds what runs in Lambda: every module of layers/shared/invoice_bridge imports only
the standard library, invoice_bridge itself, and distributions the layers install (their requirements and
what those require). The CLI (rich) and the benchmarks (reportlab) live outside the layer."""

from __future__ import annotations

import ast
import sys
from importlib.metadata import packages_distributions, requires
from pathlib import Path

from infra_support import REPO
from packaging.requirements import Requirement
from test_layer_requirements import canonical

PACKAGE = REPO / "layers" / "shared" / "invoice_bridge"
LAYER_REQUIREMENTS = [REPO / "layers" / name / "requirements.txt" for name in ("shared", "validation")]


def requirement_lines(path: Path) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def layer_closure() -> set[str]:
    """Canonical names of the layers' distributions and everything they require (extras honoured)."""
    todo = [req for path in LAYER_REQUIREMENTS for req in requirement_lines(path)]
    seen: set[str] = set()
    expanded: set[tuple[str, frozenset[str]]] = set()  # a distribution asked for with other extras needs more
    while todo:
        requirement = todo.pop()
        name = canonical(requirement.name)
        if (name, frozenset(requirement.extras)) in expanded:
            continue
        expanded.add((name, frozenset(requirement.extras)))
        seen.add(name)
        for spec in requires(requirement.name) or []:
            needed = Requirement(spec)
            environments = [{"extra": extra} for extra in requirement.extras] or [{"extra": ""}]
            if needed.marker is None or any(needed.marker.evaluate(env) for env in environments):
                todo.append(needed)
    return seen


def _type_checking_only(tree: ast.AST) -> set[ast.AST]:
    """The nodes under `if TYPE_CHECKING:`: annotations only, never imported at run time (stubs stay dev-only)."""
    guarded: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.body:
                guarded.update(ast.walk(statement))
    return guarded


def top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded = _type_checking_only(tree)
    for node in ast.walk(tree):
        if node in guarded:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_layer_package_imports_only_what_the_layers_install() -> None:
    installed = layer_closure()
    distributions = packages_distributions()
    outside: dict[str, set[str]] = {}
    for module in sorted(PACKAGE.rglob("*.py")):
        for name in top_level_imports(module):
            if name in sys.stdlib_module_names or name == "invoice_bridge":
                continue
            owners = {canonical(d) for d in distributions.get(name, [name])}
            if not owners & installed:
                outside.setdefault(str(module.relative_to(REPO)), set()).add(name)
    assert outside == {}, f"modules in the layer that import what the layer does not install: {outside}"


def test_the_cli_and_the_benchmarks_are_not_in_the_layer() -> None:
    assert not (PACKAGE / "cli").exists()
    assert not list(PACKAGE.rglob("bench*.py"))
