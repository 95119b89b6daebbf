"""Prometheus metrics of the scoring gateway, in the text exposition format (written by hand).

Counters and histograms are plain dicts keyed by label tuples: updating one costs a dict lookup
and a bisect, cheap enough for every request. Gauges (queue depth, in flight, ready replicas)
are read from the running pools when ``/metrics`` is scraped.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["CONTENT_TYPE", "Metrics", "PoolGauges"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class PoolGauges(Protocol):
    """What ``/metrics`` reads from each running deployment."""

    endpoint: str
    name: str
    in_flight: int

    @property
    def queue_depth(self) -> int: ...

    @property
    def ready_replicas(self) -> int: ...


@dataclass
class _Histogram:
    buckets: Sequence[float]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.buckets) + 1)
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1


Labels = tuple[str, str]


class Metrics:
    """Every online metric of one server."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.mirrored: dict[tuple[str, str, int], int] = {}
        self.latency: dict[Labels, _Histogram] = {}
        self.batch_sizes: dict[Labels, _Histogram] = {}
        self.restarts: dict[Labels, int] = {}

    def request(self, endpoint: str, deployment: str, status: int, seconds: float) -> None:
        key = (endpoint, deployment, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        labels = (endpoint, deployment)
        histogram = self.latency.get(labels)
        if histogram is None:
            histogram = self.latency[labels] = _Histogram(_LATENCY_BUCKETS)
        histogram.observe(seconds)

    def mirror(self, endpoint: str, deployment: str, status: int) -> None:
        key = (endpoint, deployment, status)
        self.mirrored[key] = self.mirrored.get(key, 0) + 1

    def batch(self, endpoint: str, deployment: str, size: int) -> None:
        labels = (endpoint, deployment)
        histogram = self.batch_sizes.get(labels)
        if histogram is None:
            histogram = self.batch_sizes[labels] = _Histogram(_BATCH_BUCKETS)
        histogram.observe(size)

    def restart(self, endpoint: str, deployment: str) -> None:
        labels = (endpoint, deployment)
        self.restarts[labels] = self.restarts.get(labels, 0) + 1

    def render(self, pools: Iterable[PoolGauges]) -> str:
        """The exposition text for a scrape."""
        out: list[str] = []
        _counter(
            out,
            "ferry_online_requests_total",
            "Scoring requests answered, by endpoint, deployment and HTTP status.",
            {_labels(e, d, code=str(s)): v for (e, d, s), v in sorted(self.requests.items())},
        )
        _counter(
            out,
            "ferry_online_mirrored_requests_total",
            "Requests copied to a mirror deployment (responses discarded), by status.",
            {_labels(e, d, code=str(s)): v for (e, d, s), v in sorted(self.mirrored.items())},
        )
        _histogram(
            out,
            "ferry_online_request_duration_seconds",
            "Time from receiving a scoring request to its response.",
            self.latency,
        )
        _histogram(
            out,
            "ferry_online_batch_size",
            "Requests per dynamic batch sent to a replica.",
            self.batch_sizes,
        )
        _counter(
            out,
            "ferry_online_replica_restarts_total",
            "Replicas restarted after they died or failed their liveness probe.",
            {_labels(e, d): v for (e, d), v in sorted(self.restarts.items())},
        )
        pools = list(pools)
        for name, help_text, read in (
            ("ferry_online_queue_depth", "Requests waiting for a free replica.", _queue),
            ("ferry_online_in_flight", "Requests admitted and not yet answered.", _in_flight),
            ("ferry_online_replicas_ready", "Replicas ready to serve.", _ready),
        ):
            out.append(f"# HELP {name} {help_text}\n# TYPE {name} gauge\n")
            out.extend(f"{name}{{{_labels(p.endpoint, p.name)}}} {read(p)}\n" for p in pools)
        return "".join(out)


def _queue(pool: PoolGauges) -> int:
    return pool.queue_depth


def _in_flight(pool: PoolGauges) -> int:
    return pool.in_flight


def _ready(pool: PoolGauges) -> int:
    return pool.ready_replicas


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(endpoint: str, deployment: str, **extra: str) -> str:
    pairs = {"endpoint": endpoint, "deployment": deployment, **extra}
    return ",".join(f'{k}="{_escape(v)}"' for k, v in pairs.items())


def _counter(out: list[str], name: str, help_text: str, values: dict[str, int]) -> None:
    out.append(f"# HELP {name} {help_text}\n# TYPE {name} counter\n")
    out.extend(f"{name}{{{labels}}} {value}\n" for labels, value in values.items())


def _histogram(out: list[str], name: str, help_text: str, data: dict[Labels, _Histogram]) -> None:
    out.append(f"# HELP {name} {help_text}\n# TYPE {name} histogram\n")
    for (endpoint, deployment), histogram in sorted(data.items()):
        labels = _labels(endpoint, deployment)
        cumulative = 0
        for bound, count in zip(histogram.buckets, histogram.counts, strict=False):
            cumulative += count
            out.append(f'{name}_bucket{{{labels},le="{bound:g}"}} {cumulative}\n')
        out.append(f'{name}_bucket{{{labels},le="+Inf"}} {histogram.count}\n')
        out.append(f"{name}_sum{{{labels}}} {histogram.total:.6f}\n")
        out.append(f"{name}_count{{{labels}}} {histogram.count}\n")
