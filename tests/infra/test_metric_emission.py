"""The dashboard's Spiris 429 widget has data: classifying a rate-limit answer emits `SpirisThrottled`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from invoice_bridge.adapters.spiris_api import SpirisRetryable, classify
from invoice_bridge.observability import metrics


@pytest.fixture
def clean_metrics() -> Iterator[None]:
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


def throttled_count() -> float:
    values = metrics.metric_set.get("SpirisThrottled", {}).get("Value", [])
    return float(sum(values))


@pytest.mark.usefixtures("clean_metrics")
def test_429_and_4010_count_as_spiris_throttled_and_other_errors_do_not() -> None:
    too_many = httpx.Response(429, headers={"Retry-After": "7"}, json={"Message": "slow down"})
    rate_code = httpx.Response(
        400, json={"ErrorCode": 4010, "DeveloperErrorMessage": "Try again in 3 seconds"}
    )
    server_error = httpx.Response(503, json={"Message": "down"})

    assert isinstance(classify(too_many, 60.0), SpirisRetryable)
    assert isinstance(classify(rate_code, 60.0), SpirisRetryable)
    assert throttled_count() == 2
    assert isinstance(classify(server_error, 60.0), SpirisRetryable)
    assert throttled_count() == 2
