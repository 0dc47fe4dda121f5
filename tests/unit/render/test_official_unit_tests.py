"""The official OpenPeppol unit tests (VEFA testSets) give their expected outcome through our validator."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from invoice_bridge.render.validation import get_validator

MIRROR = Path(__file__).resolve().parents[4] / "shared" / "peppol-rules"
VEFA = "{http://difi.no/xsd/vefa/validator/1.0}"
UNIT_FILES = sorted((MIRROR / "unit-UBL-SE").glob("*.xml")) + sorted((MIRROR / "unit-UBL-PEPPOL").glob("*.xml"))


def _cases(path: Path) -> list[tuple[dict[str, list[str]], bytes]]:
    root = ET.parse(path).getroot()
    cases = []
    for test in root.findall(f"{VEFA}test"):
        expect = {kind: [e.text.strip() for e in test.iter(f"{VEFA}{kind}") if e.text] for kind in
                  ("success", "error", "warning")}
        documents = [child for child in test if not child.tag.startswith(VEFA)]
        assert len(documents) == 1, path.name
        cases.append((expect, ET.tostring(documents[0], encoding="utf-8")))
    return cases


def test_the_unit_tests_are_there() -> None:
    assert len(UNIT_FILES) == 79  # 24 SE + 55 PEPPOL in the pinned mirror


@pytest.mark.parametrize("path", UNIT_FILES, ids=[p.name for p in UNIT_FILES])
def test_official_unit_test_outcome(path: Path) -> None:
    validator = get_validator()
    for expect, document in _cases(path):
        result = validator.validate(document)
        fatal = {f.rule_id for f in result.fatal}
        warnings = {f.rule_id for f in result.warnings}
        for rule in expect["error"]:
            assert rule in fatal, f"{path.name}: expected error {rule}, got fatal={sorted(fatal)}"
        for rule in expect["warning"]:
            assert rule in warnings, f"{path.name}: expected warning {rule}, got warnings={sorted(warnings)}"
        for rule in expect["success"]:
            assert rule not in fatal | warnings, f"{path.name}: {rule} fired but should pass"
