"""`sam build` of the real template (python3.12, arm64, no container): the layers come out with
invoice_bridge, only aarch64 binaries, and small enough for Lambda's 250 MB unzipped limit."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest
from infra_support import FUNCTIONS, TEMPLATE, sam_env

pytestmark = pytest.mark.tools

ELF_MAGIC = b"\x7fELF"
EM_AARCH64 = 183
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


@pytest.fixture(scope="module")
def build_dir(sam_cli: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("sam-build")
    result = subprocess.run(
        [
            str(sam_cli),
            "build",
            "--parallel",
            "--template-file",
            str(TEMPLATE),
            "--build-dir",
            str(work / "build"),
            "--cache-dir",
            str(work / "cache"),
        ],
        cwd=work,
        env=sam_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"sam build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert "Build Succeeded" in result.stdout + result.stderr
    return work / "build"


def elf_machines(root: Path) -> dict[Path, int]:
    """Every ELF file under `root` (shared objects, also ones not named *.so) and its e_machine."""
    machines = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                header = handle.read(20)
            if header[:4] == ELF_MAGIC:
                machines[path] = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
    return machines


def size_of(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def test_shared_layer_contains_invoice_bridge_and_its_dependencies(build_dir: Path) -> None:
    site = build_dir / "SharedLayer" / "python"
    assert (site / "invoice_bridge" / "__init__.py").is_file()
    assert (site / "invoice_bridge" / "settings.py").is_file()
    for package in (
        "aws_lambda_powertools",
        "pydantic",
        "pydantic_core",
        "httpx",
        "jinja2",
        "fpdf",
        "stdnum",
    ):
        assert (site / package).is_dir(), package
    assert not (site / "saxonche.libs").exists(), "saxonche belongs in ValidationLayer only"
    assert not (site / "lxml").exists(), "lxml belongs in ValidationLayer only"
    schemas = site / "invoice_bridge" / "render" / "rules" / "ubl-2.1"
    assert (schemas / "maindoc" / "UBL-Invoice-2.1.xsd").is_file() and len(list(schemas.rglob("*.xsd"))) == 15


def test_validation_layer_contains_saxonche_and_lxml(build_dir: Path) -> None:
    site = build_dir / "ValidationLayer" / "python"
    assert list(site.glob("saxonche*.so")), "saxonche extension missing from ValidationLayer"
    assert list((site / "lxml").glob("etree*.so")), "lxml (UBL 2.1 schema validation) missing from ValidationLayer"


def test_every_binary_in_the_build_is_aarch64(build_dir: Path) -> None:
    machines = elf_machines(build_dir)
    shared_objects = [p for p in machines if ".so" in p.name]
    assert len(shared_objects) >= 5, "expected compiled dependencies (pydantic_core, saxonche, ...)"
    wrong = {str(p.relative_to(build_dir)): m for p, m in machines.items() if m != EM_AARCH64}
    assert wrong == {}, f"non-aarch64 binaries: {wrong}"
    assert not [p for p in build_dir.rglob("*x86_64*")], "x86_64-tagged files in the build"


def test_render_function_with_both_layers_fits_the_lambda_size_limit(build_dir: Path) -> None:
    total = sum(size_of(build_dir / part) for part in ("SharedLayer", "ValidationLayer", "RenderFunction"))
    assert total < LAMBDA_UNZIPPED_LIMIT, f"render function + layers unzipped: {total / 2**20:.0f} MB"


def test_every_function_artifact_has_its_handler(build_dir: Path) -> None:
    """SAM builds a missing or empty CodeUri without complaint; a deploy would then fail at runtime."""
    for function in sorted(FUNCTIONS):
        app = build_dir / function / "app.py"
        assert app.is_file(), f"{function}: app.py missing from the build"
        assert "lambda_handler" in _module_names(app), f"{function}: app.py has no lambda_handler"


def _module_names(source: Path) -> set[str]:
    """The names a module defines at its top level: functions, classes and assigned names (a handler is
    defined, or built by invoice_bridge.handlers)."""
    names: set[str] = set()
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
    return names
