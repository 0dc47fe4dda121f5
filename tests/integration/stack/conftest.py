"""One embedded stack (moto + gateway + drainer + scheduler) on the tiny fixture template."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.stack import LocalStack

FIXTURE_TEMPLATE = Path(__file__).parent / "fixture" / "template.yaml"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(FIXTURE_TEMPLATE, sandboxes=False, run_scheduler=False) as running:
        yield running


@pytest.fixture
def auth(stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.admin_token}"}
