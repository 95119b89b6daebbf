"""Live figures from the gateway's counters: histogram percentiles, rates and their windows."""

from __future__ import annotations

import pytest

from ferry.online.metrics import Metrics
from ferry.studio.pages.online_metrics import LATENCY_WINDOW_S, LiveMetrics, quantile


def test_quantile_interpolates_within_the_bucket_like_prometheus() -> None:
    bounds = (0.1, 0.2, 0.4)
    # 10 requests in (0, 0.1], 10 in (0.1, 0.2]: the median is the top of the first bucket.
    assert quantile(0.5, bounds, [10, 10, 0, 0]) == pytest.approx(0.1)
    assert quantile(0.75, bounds, [10, 10, 0, 0]) == pytest.approx(0.15)
    assert quantile(0.95, bounds, [0, 0, 20, 0]) == pytest.approx(0.2 + 0.2 * 0.95)
    # Past the highest bound: the highest bound (the page says "or more" by its footnote).
    assert quantile(0.95, bounds, [1, 0, 0, 19]) == 0.4
    assert quantile(0.5, bounds, [0, 0, 0, 0]) is None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rates_and_percentiles_cover_the_recent_window_only() -> None:
    metrics = Metrics()
    clock = Clock()
    live = LiveMetrics(metrics, clock)
    for _ in range(50):
        metrics.request("ep", "blue", 200, 2.0)  # slow requests, long ago
    first = {r.name: r for r in live.figures("ep", ["blue", "green"], [])}
    assert first["blue"].per_second is None  # one snapshot: no rate yet
    assert first["blue"].since_start and first["blue"].p50_s is not None
    assert first["blue"].p50_s > 1.0
    assert first["green"].requests_total == 0 and first["green"].p50_s is None

    clock.now += LATENCY_WINDOW_S + 1  # the slow ones leave the window
    live.figures("ep", ["blue"], [])
    clock.now += 5
    for _ in range(20):
        metrics.request("ep", "blue", 200, 0.003)
    metrics.request("ep", "blue", 424, 0.003)
    metrics.request("ep", "", 401, 0.0001)  # a wrong key: no deployment picked
    metrics.request("other", "blue", 500, 0.003)  # another endpoint's counts stay out
    rows = {r.name: r for r in live.figures("ep", ["blue"], [])}
    blue = rows["blue"]
    assert blue.requests_total == 71
    assert blue.per_second == pytest.approx(21 / 5)
    assert blue.window_requests == 21 and not blue.since_start
    assert blue.p50_s is not None and 0.0025 < blue.p50_s <= 0.005
    assert blue.errors == {424: 1}
    assert rows[""].errors == {401: 1}
    assert set(rows) == {"", "blue"}
