"""The shared package's caches are per Lambda container: the embedded stack runs every function in one
process, and a function must not use what another read or decrypted with its own role."""

from __future__ import annotations

import pytest
from invoice_bridge import wiring


def built_in(container: str) -> object:
    token = wiring.container.set(container)
    try:
        return wiring.operator_credentials()
    finally:
        wiring.container.reset(token)


def test_a_cached_adapter_is_built_once_per_container(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "t")
    monkeypatch.setenv("TOKEN_KEY_ID", "k")
    dispatch = built_in("DispatchFunction/0")
    assert built_in("DispatchFunction/0") is dispatch
    assert built_in("TrackDeliveriesFunction/0") is not dispatch
    assert wiring.operator_credentials() is wiring.operator_credentials()  # AWS: one container per process
    wiring.reset()
    assert built_in("DispatchFunction/0") is not dispatch
