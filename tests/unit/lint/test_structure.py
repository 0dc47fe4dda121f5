"""The structure lint (scripts/check_structure.py): the package passes it, and it catches what it is for."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _load_lint() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_structure", ROOT / "scripts" / "check_structure.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module's annotations through sys.modules
    spec.loader.exec_module(module)
    return module


lint = _load_lint()


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / "invoice_bridge"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return package


def _function(lines: int) -> str:
    """A function of exactly `lines` lines (its def line included)."""
    return "def f():\n" + "    x = 1\n" * (lines - 1)


def test_invoice_bridge_passes_the_structure_lint() -> None:
    findings = lint.check_package()
    assert findings == [], "\n".join(str(f) for f in findings)


def test_a_function_over_sixty_lines_fails_and_one_of_sixty_passes(tmp_path: Path) -> None:
    package = _package(tmp_path, {"long.py": _function(61), "fine.py": _function(60)})
    findings = lint.check_package(package)
    assert [(f.path.name, f.line) for f in findings] == [("long.py", 1)]
    assert "61 lines" in findings[0].message


def test_a_long_method_in_a_class_fails(tmp_path: Path) -> None:
    method = "class C:\n    def m(self):\n" + "        x = 1\n" * 60
    findings = lint.check_package(_package(tmp_path, {"c.py": method}))
    assert [(f.line, "function m" in f.message) for f in findings] == [(2, True)]


@pytest.mark.parametrize(
    "module, source",
    [
        ("fetch/sync.py", "from ..adapters.spiris_api import HttpSpirisApi\n"),
        ("fetch/sync.py", "def f():\n    from ..adapters import aws\n"),
        ("fetch/sync.py", "from .. import adapters\n"),
        ("api/reports.py", "import invoice_bridge.adapters.dynamo_invoices\n"),
        ("mapping.py", "from invoice_bridge.adapters.aws import client\n"),
        ("consent/__init__.py", "from ..adapters.kms_tokens import KmsCipher\n"),
        ("consent/wiring.py", "from ..adapters.kms_tokens import KmsCipher\n"),  # not a composition module
    ],
)
def test_a_domain_module_importing_an_adapter_fails(tmp_path: Path, module: str, source: str) -> None:
    findings = lint.check_package(_package(tmp_path, {module: source}))
    assert len(findings) == 1 and "imports adapter invoice_bridge.adapters" in findings[0].message


@pytest.mark.parametrize(
    "module, source",
    [
        ("wiring.py", "from .adapters.aws import client\n"),
        ("entrypoints.py", "def f():\n    from .adapters.spiris_api import HttpSpirisApi\n"),
        ("adapters/maventa.py", "from .operator_http import OperatorHttp\n"),
        ("fetch/sync.py", "from ..ports import SpirisError\nfrom .adapters_like import x\n"),
    ],
)
def test_composition_modules_and_adapters_may_import_adapters(tmp_path: Path, module: str, source: str) -> None:
    assert lint.check_package(_package(tmp_path, {module: source})) == []
