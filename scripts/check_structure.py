"""Structure lint for `invoice_bridge`: what ruff and mypy do not check.

1. No function (or method) longer than 60 lines, counted from its `def` (decorators excluded) to its
   last line. A long function hides its steps; name them instead.
2. No domain module imports an adapter. The domain is `invoice_bridge` minus `adapters` and the
   composition modules (COMPOSITION below), which are the only places that choose implementations.
   Domain code depends on `invoice_bridge.ports`; the adapters implement those ports.
3. Every `type: ignore` names its error code and says why: `# type: ignore[code]  # why`.

Exit status 1 with one line per finding (path:line: message), 0 when clean. Run by `make lint` and, as
a test (tests/unit/lint/test_structure.py), by `make test`.
"""

from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "layers" / "shared" / "invoice_bridge"
PACKAGE = "invoice_bridge"
MAX_FUNCTION_LINES = 60

ADAPTERS = f"{PACKAGE}.adapters"
# Modules that build adapters and hand them to the domain (the composition root and its entry points).
COMPOSITION = frozenset(
    {
        f"{PACKAGE}.wiring",
        f"{PACKAGE}.entrypoints",
    }
)


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def module_name(path: Path, package_dir: Path = PACKAGE_DIR) -> str:
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_domain(module: str) -> bool:
    return not (module == ADAPTERS or module.startswith(ADAPTERS + ".") or module in COMPOSITION)


def _absolute_import(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imported_modules(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """Every module an import statement names (at any depth: an import inside a function counts too)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            target = _absolute_import(module, is_package, node)
            yield node.lineno, target
            for alias in node.names:  # `from invoice_bridge import adapters`
                yield node.lineno, f"{target}.{alias.name}"


def _imports_adapter(name: str) -> bool:
    return name == ADAPTERS or name.startswith(ADAPTERS + ".")


def adapter_imports(path: Path, tree: ast.Module, module: str) -> Iterator[Finding]:
    if not is_domain(module):
        return
    reported: set[int] = set()
    for line, name in imported_modules(tree, module, path.name == "__init__.py"):
        if _imports_adapter(name) and line not in reported:
            reported.add(line)
            yield Finding(path, line, f"domain module {module} imports adapter {name}: depend on a port")


def long_functions(path: Path, tree: ast.Module, limit: int = MAX_FUNCTION_LINES) -> Iterator[Finding]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > limit:
                yield Finding(path, node.lineno, f"function {node.name} has {length} lines (at most {limit})")


_TYPE_IGNORE = re.compile(r"#\s*type:\s*ignore\b(?P<codes>\[[^\]]*\])?(?P<rest>.*)")
_REASON = re.compile(r"^\s*#\s*\S")


def unexplained_type_ignores(path: Path, source: str) -> Iterator[Finding]:
    """`type: ignore` comments without an error code, or without a `# why` after it."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        match = _TYPE_IGNORE.search(token.string)
        if match is None:
            continue
        if not match.group("codes"):
            yield Finding(path, token.start[0], "type: ignore without an error code: type: ignore[code]")
        elif not _REASON.match(match.group("rest")):
            yield Finding(path, token.start[0], "type: ignore without its reason: # type: ignore[code]  # why")


def check_file(path: Path, package_dir: Path = PACKAGE_DIR) -> list[Finding]:
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    module = module_name(path, package_dir)
    return [
        *long_functions(path, tree),
        *adapter_imports(path, tree, module),
        *unexplained_type_ignores(path, source),
    ]


def check_package(package_dir: Path = PACKAGE_DIR) -> list[Finding]:
    return [finding for path in sorted(package_dir.rglob("*.py")) for finding in check_file(path, package_dir)]


def main() -> int:
    findings = check_package()
    for finding in findings:
        print(finding.__str__().replace(str(ROOT) + "/", ""))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
