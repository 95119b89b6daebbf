"""Live figures for the online endpoint page, read from the server's own counters.

The scoring gateway keeps cumulative counters and latency histograms (``online/metrics.py``,
what ``/metrics`` exposes to Prometheus). A page wants rates and recent percentiles instead, so
each refresh takes a snapshot of one endpoint's counters and compares it with the snapshots taken
in the last minute: requests/s over the last :data:`RATE_WINDOW_S` seconds, p50/p95 over the
requests of the last :data:`LATENCY_WINDOW_S` seconds (interpolated within histogram buckets, as
Prometheus's ``histogram_quantile`` does). Nothing outside the server is involved.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ferry.online.metrics import Metrics, PoolGauges

__all__ = ["LATENCY_WINDOW_S", "RATE_WINDOW_S", "LiveMetrics", "quantile"]

RATE_WINDOW_S = 10.0
LATENCY_WINDOW_S = 60.0
#: Snapshots kept per endpoint: a page polling every second fills a minute with room to spare.
_MAX_SNAPSHOTS = 240


@dataclass(frozen=True)
class _Snapshot:
    at: float
    requests: dict[tuple[str, int], int]  # (deployment, status) -> count
    buckets: dict[str, tuple[int, ...]]  # deployment -> per-bucket counts (last one: +Inf)


@dataclass
class DeploymentFigures:
    """One deployment's row in the metrics table (``""`` is the endpoint itself: a request
    refused before a deployment was picked, such as a wrong key, is counted there)."""

    name: str
    requests_total: int = 0
    per_second: float | None = None  # None until two snapshots exist
    p50_s: float | None = None
    p95_s: float | None = None
    window_requests: int = 0
    #: The percentiles cover every request since the server started (first refresh only).
    since_start: bool = False
    errors: dict[int, int] = field(default_factory=dict)  # HTTP status >= 400 -> count
    queue: int | None = None
    in_flight: int | None = None
    ready: int | None = None


def quantile(q: float, bounds: Sequence[float], counts: Sequence[int]) -> float | None:
    """The ``q`` quantile of a histogram (``counts`` per bucket, the last one above every bound).

    Linear within the bucket holding the rank, as Prometheus does; a rank in the overflow
    bucket answers the highest bound (the true value is larger, the page says so). ``None``
    when the histogram is empty.
    """
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    cumulative = 0
    for index, count in enumerate(counts):
        if cumulative + count >= rank and count > 0:
            if index >= len(bounds):
                return bounds[-1]
            lower = bounds[index - 1] if index > 0 else 0.0
            return lower + (bounds[index] - lower) * (rank - cumulative) / count
        cumulative += count
    return bounds[-1]


class LiveMetrics:
    """Snapshots of the server's counters per endpoint, turned into rates and percentiles."""

    def __init__(self, metrics: Metrics, clock: Callable[[], float] = time.monotonic) -> None:
        self._metrics = metrics
        self._clock = clock
        self._snapshots: dict[str, deque[_Snapshot]] = {}

    def figures(
        self, endpoint: str, deployments: Iterable[str], pools: Iterable[PoolGauges]
    ) -> list[DeploymentFigures]:
        """Rows for ``endpoint``'s deployments (and one for the endpoint when it has counts)."""
        now = self._take(endpoint)
        history = self._snapshots[endpoint]
        rate_base = _oldest_within(history, now.at - RATE_WINDOW_S, now)
        latency_base = _oldest_within(history, now.at - LATENCY_WINDOW_S, now)
        names = sorted(set(deployments) | {d for d, _ in now.requests})
        gauges = {p.name: p for p in pools if p.endpoint == endpoint}
        rows = []
        for name in names:
            row = DeploymentFigures(name=name)
            row.requests_total = _count(now, name)
            row.errors = {
                status: count
                for (deployment, status), count in sorted(now.requests.items())
                if deployment == name and status >= 400
            }
            if rate_base is not None:
                elapsed = now.at - rate_base.at
                row.per_second = (row.requests_total - _count(rate_base, name)) / elapsed
            counts = _window_counts(now, latency_base, name)
            row.window_requests = sum(counts)
            row.since_start = latency_base is None
            bounds = self._bounds()
            if counts and bounds:
                row.p50_s = quantile(0.5, bounds, counts)
                row.p95_s = quantile(0.95, bounds, counts)
            pool = gauges.get(name)
            if pool is not None:
                row.queue, row.in_flight, row.ready = (
                    pool.queue_depth,
                    pool.in_flight,
                    pool.ready_replicas,
                )
            rows.append(row)
        return rows

    def _bounds(self) -> Sequence[float]:
        for histogram in self._metrics.latency.values():
            return histogram.buckets
        return ()

    def _take(self, endpoint: str) -> _Snapshot:
        requests = {
            (deployment, status): count
            for (name, deployment, status), count in self._metrics.requests.items()
            if name == endpoint
        }
        buckets = {
            deployment: tuple(histogram.counts)
            for (name, deployment), histogram in self._metrics.latency.items()
            if name == endpoint and histogram.counts
        }
        snapshot = _Snapshot(self._clock(), requests, buckets)
        history = self._snapshots.setdefault(endpoint, deque(maxlen=_MAX_SNAPSHOTS))
        while history and history[0].at < snapshot.at - LATENCY_WINDOW_S:
            history.popleft()
        history.append(snapshot)
        return snapshot

    def forget(self, endpoint: str) -> None:
        """Drop an endpoint's snapshots (it was deleted)."""
        self._snapshots.pop(endpoint, None)


def _oldest_within(history: Iterable[_Snapshot], since: float, now: _Snapshot) -> _Snapshot | None:
    """The oldest snapshot taken at or after ``since``, other than ``now`` itself."""
    for snapshot in history:
        if snapshot is not now and snapshot.at >= since and snapshot.at < now.at:
            return snapshot
    return None


def _count(snapshot: _Snapshot, deployment: str) -> int:
    return sum(c for (d, _), c in snapshot.requests.items() if d == deployment)


def _window_counts(now: _Snapshot, base: _Snapshot | None, deployment: str) -> list[int]:
    """Per-bucket counts of the requests since ``base`` (since the start without one)."""
    current = now.buckets.get(deployment)
    if current is None:
        return []
    before = base.buckets.get(deployment) if base is not None else None
    if before is None:
        return list(current)
    return [a - b for a, b in zip(current, before, strict=True)]
