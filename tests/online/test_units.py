"""The gateway's pure parts: the traffic split, the metrics text (keys and tokens:
tests/services/test_endpoint_keys.py)."""

from __future__ import annotations

import random

from ferry.errors import GatewayError
from ferry.online.metrics import Metrics
from ferry.online.routing import EndpointRoute
from ferry.services.endpoint_keys import EndpointCredentials, KeyRing


def _route(traffic: dict[str, int], mirror: dict[str, int] | None = None) -> EndpointRoute:
    route = EndpointRoute(
        "ep1", KeyRing("ep1", "key", EndpointCredentials.generate()), traffic, mirror or {}
    )
    route.pools = {name: name for name in traffic}  # type: ignore[misc]
    return route


def test_split_follows_the_weights() -> None:
    random.seed(7)
    route = _route({"blue": 70, "green": 30, "idle": 0})
    picks: list[object] = [route.pick(None) for _ in range(10_000)]
    assert picks.count("idle") == 0
    assert 2700 <= picks.count("green") <= 3300
    assert route.pick(b"idle") == "idle"  # type: ignore[comparison-overlap]


def test_no_traffic_and_unknown_names_are_404() -> None:
    route = _route({"blue": 0})
    for pinned in (None, b"ghost"):
        try:
            route.pick(pinned)
        except GatewayError as exc:
            assert exc.http_status == 404
        else:
            raise AssertionError("expected a 404")
    route.states["later"] = "Creating: its replicas are starting"
    try:
        route.pick(b"later")
    except GatewayError as exc:
        assert exc.http_status == 503 and "Creating" in exc.message


def test_metrics_text_is_prometheus_exposition() -> None:
    metrics = Metrics()
    metrics.request("ep1", "blue", 200, 0.0007)
    metrics.request("ep1", "blue", 200, 0.03)
    metrics.request("ep1", "blue", 424, 0.002)
    metrics.batch("ep1", "blue", 3)
    metrics.restart("ep1", "blue")
    text = metrics.render([])
    assert 'ferry_online_requests_total{endpoint="ep1",deployment="blue",code="200"} 2' in text
    bucket = 'ferry_online_request_duration_seconds_bucket{endpoint="ep1",deployment="blue",'
    assert bucket + 'le="0.001"} 1' in text
    assert bucket + 'le="+Inf"} 3' in text
    assert 'ferry_online_batch_size_sum{endpoint="ep1",deployment="blue"} 3.000000' in text
    assert 'ferry_online_replica_restarts_total{endpoint="ep1",deployment="blue"} 1' in text
    for line in text.splitlines():
        assert line.startswith("#") or " " in line
