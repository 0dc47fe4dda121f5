"""After every end-to-end test, its captured output (our handlers' logs, the stack's, the sandboxes')
is checked for secrets (see log_hygiene.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from log_hygiene import secrets_in


@pytest.fixture(autouse=True)
def _no_secrets_in_logs(capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    yield
    out, err = capfd.readouterr()
    assert not secrets_in(out + err), f"secrets in the captured logs: {secrets_in(out + err)}"

