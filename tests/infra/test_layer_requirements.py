"""The layers ship what the project runs: every runtime dependency of pyproject.toml is pinned in a
layer's requirements.txt (or deliberately left out), at the version the project venv tests with."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from infra_support import REPO

# Runtime dependencies of pyproject.toml that no Lambda needs, and why.
NOT_IN_LAMBDA = {
    "rich": "the local CLI's tables only",
}
REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==(?P<version>\S+)$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = REQUIREMENT.match(line)
            assert match, f"{path.name}: '{line}' is not pinned with =="
            found[canonical(match["name"])] = match["version"]
    return found


def project_dependencies() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {canonical(re.split(r"[\[<>=!~ ;]", spec, maxsplit=1)[0]) for spec in project["dependencies"]}


def test_every_runtime_dependency_is_in_exactly_one_layer_or_deliberately_left_out() -> None:
    shared = pins(REPO / "layers" / "shared" / "requirements.txt")
    validation = pins(REPO / "layers" / "validation" / "requirements.txt")
    assert set(validation) == {"saxonche", "lxml"}
    assert not set(shared) & set(validation)
    expected = project_dependencies() - set(NOT_IN_LAMBDA)
    assert set(shared) | set(validation) == expected


def test_layer_pins_match_the_versions_the_tests_run_with() -> None:
    for requirements in ("shared", "validation"):
        for name, pinned in pins(REPO / "layers" / requirements / "requirements.txt").items():
            assert version(name) == pinned, (
                f"layers/{requirements}: {name}=={pinned}, venv has {version(name)}"
            )
