"""The benchmarks' one timer (zoo.utils.timing)."""

import pytest

from zoo.utils.timing import time_call


def test_time_call_runs_setup_untimed_before_every_call_and_reports_quantiles():
    calls = []
    t = time_call(lambda: calls.append("fn"), repeats=4, warmup=2, setup=lambda: calls.append("setup"))
    assert calls == ["setup", "fn"] * 6
    assert t["repeats"] == 4
    assert 0 <= t["min_ms"] <= t["median_ms"] <= t["p90_ms"]
    with pytest.raises(ValueError, match="repeats"):
        time_call(lambda: None, repeats=0)
