"""The scheduling bench runs the real scheduler and budget on a simulated clock."""

from __future__ import annotations

import json

from bench.polling import LIST, main, run


def test_idle_integrations_cost_one_list_request_each_within_the_budget() -> None:
    result = run(integrations=1_300, limit_per_minute=600, changed_share=0.0)

    assert result.requests == {LIST: 1_300}
    assert result.max_requests_in_a_minute[LIST] == 600
    # 1,300 requests at 600 a minute: two full minutes and part of a third.
    assert 120 <= result.seconds_until_all_fresh < 180
    assert result.budget_share_used[LIST] == round(1_300 / 1_800, 3)


def test_bench_writes_its_json(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out" / "bench.json"

    main(["--integrations", "200", "--out", str(out)])

    written = json.loads(out.read_text())
    assert written["integrations"] == 200 and written["requests"][LIST] == 200
