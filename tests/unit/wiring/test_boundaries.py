"""The ports hold the boundary: outside `invoice_bridge.adapters`, only the composition root
(`invoice_bridge.wiring`) imports an adapter; every module asks wiring, and domain modules see ports."""

from __future__ import annotations

import ast
from pathlib import Path

import invoice_bridge
import pytest

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


def test_the_api_patch_of_an_issuer_is_derived_from_the_domains() -> None:
    """PATCH /issuers/{id} takes any of the issuer's details with the domain's own rules and descriptions:
    they are stated once, in IssuerDetails, not copied field by field into the API."""
    from invoice_bridge.api.issuers import DispatchPatch, IssuerPatch
    from invoice_bridge.models.issuer import DispatchSettings, IssuerDetails
    from pydantic import ValidationError

    assert IssuerPatch.model_fields.keys() == IssuerDetails.model_fields.keys()
    assert DispatchPatch.model_fields.keys() == DispatchSettings.model_fields.keys()
    assert all(not field.is_required() for field in IssuerPatch.model_fields.values())
    for name, field in IssuerDetails.model_fields.items():
        assert IssuerPatch.model_fields[name].description == field.description, name
    assert IssuerPatch.model_validate({}).model_dump(exclude_unset=True) == {}
    with pytest.raises(ValidationError, match="at most 200 characters"):
        IssuerPatch.model_validate({"name": "x" * 201})
    with pytest.raises(ValidationError, match="less than or equal to 72"):
        IssuerPatch.model_validate({"send_delay_hours": 73})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        IssuerPatch.model_validate({"dispatch": {"attach_pdfs": True}})


def test_a_patch_model_takes_each_field_of_its_model_optional_with_its_rules() -> None:
    from typing import Annotated

    from invoice_bridge.api.inputs import patch_of
    from pydantic import BaseModel, Field, ValidationError

    class Inner(BaseModel):
        flag: bool = True

    class Outer(BaseModel):
        code: Annotated[str, Field(min_length=2, description="two or more")]
        count: int = Field(default=1, ge=0)
        inner: Inner = Field(default_factory=Inner)

    class InnerPatch(patch_of(Inner)):  # type: ignore[misc]  # a base built at run time
        pass

    class OuterPatch(patch_of(Outer, nested={"inner": InnerPatch})):  # type: ignore[misc]  # as above
        pass

    assert OuterPatch.model_validate({"inner": {}}).model_dump(exclude_unset=True) == {"inner": {}}
    assert OuterPatch.model_validate({"code": None, "count": None}).model_dump() == {
        "code": None, "count": None, "inner": None,
    }
    assert OuterPatch.model_fields["code"].description == "two or more"
    for bad in ({"code": "x"}, {"count": -1}, {"inner": {"flag": "maybe"}}, {"other": 1}):
        with pytest.raises(ValidationError):
            OuterPatch.model_validate(bad)
