"""The ports hold the boundary: outside `invoice_bridge.adapters`, only the composition root
(`invoice_bridge.wiring`) imports an adapter; every module asks wiring, and domain modules see ports."""

from __future__ import annotations

import ast
from pathlib import Path

import invoice_bridge

PACKAGE = Path(invoice_bridge.__file__).parent


def _imports_of_adapters(source: Path, root: Path = PACKAGE) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
            if any(name.split(".")[0] == "adapters" or ".adapters" in f".{name}" for name in names):
                found.append(f"{source.relative_to(root)}:{node.lineno}")
        elif isinstance(node, ast.Import):
            found += [
                f"{source.relative_to(root)}:{node.lineno}"
                for alias in node.names
                if alias.name.startswith("invoice_bridge.adapters")
            ]
    return found


def test_only_the_composition_root_imports_an_adapter() -> None:
    outside = [
        path
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] != "adapters" and path.name != "wiring.py"
    ]
    assert len(outside) > 50
    assert [hit for path in sorted(outside) for hit in _imports_of_adapters(path)] == []


def test_the_check_sees_an_adapter_import(tmp_path: Path) -> None:
    module = tmp_path / "x.py"
    module.write_text("from ..adapters.kms_tokens import DecryptionFailed\nfrom .. import adapters\n")
    assert _imports_of_adapters(module, tmp_path) == ["x.py:1", "x.py:2"]


def test_the_api_input_for_an_issuer_is_the_domains() -> None:
    """POST /issuers takes exactly what the domain calls the issuer's details: a field added there is
    accepted by the API (and the console's form, which builds the same model) without a second copy."""
    from invoice_bridge.api.issuers import IssuerCreate
    from invoice_bridge.models.issuer import Issuer, IssuerDetails

    assert issubclass(IssuerCreate, IssuerDetails) and issubclass(Issuer, IssuerDetails)
    assert IssuerCreate.model_fields.keys() == IssuerDetails.model_fields.keys()
