"""A run() that never returns costs one replica restart, not minutes of 429 (default probes)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from ferry import MLClient
from tests.online.conftest import deploy, make_endpoint, metric, scoring, wait_for, write_code

SCRIPT = """
import json
import time

def init():
    pass

def run(raw):
    data = json.loads(raw)
    if data.get("hang"):
        time.sleep(3600)
    time.sleep(data.get("sleep", 0))
    return {"ok": True}
"""


@pytest.fixture(scope="module")
def hangs(ml_client: MLClient, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Endpoint hang-ep: one replica, 1.5 s timeout, Azure's default probes (300 s to fail)."""
    code = write_code(tmp_path_factory.mktemp("hangs"), SCRIPT)
    make_endpoint(ml_client, "hang-ep")
    deploy(ml_client, "hang-ep", "main", code, request_settings={"request_timeout_ms": 1500})
    return code


def _post(http: httpx.Client, ml_client: MLClient, body: object) -> httpx.Response:
    uri, headers = scoring(ml_client, "hang-ep")
    return http.post(uri, content=json.dumps(body), headers=headers)


def _replica(ml_client: MLClient) -> dict[str, object]:
    replica: dict[str, object] = ml_client.online_deployments.get("main", "hang-ep").replicas[0]
    return replica


def test_slow_run_that_returns_keeps_its_replica(
    ml_client: MLClient, hangs: Path, http: httpx.Client
) -> None:
    before = _replica(ml_client)
    response = _post(http, ml_client, {"sleep": 1.8})  # past 1.5 s, well within the grace
    assert response.status_code == 408
    assert "request_timeout_ms 1500" in response.json()["message"]
    wait_for(lambda: _post(http, ml_client, {}).status_code == 200, 10, "the replica to be free")
    after = _replica(ml_client)
    assert (after["pid"], after["restarts"]) == (before["pid"], before["restarts"])


def test_run_that_never_returns_restarts_the_replica(
    ml_client: MLClient, hangs: Path, http: httpx.Client
) -> None:
    before = _replica(ml_client)
    response = _post(http, ml_client, {"hang": True})
    assert response.status_code == 408
    assert "is restarted" in response.json()["message"]
    # Liveness (default: 10 s + 30 x 10 s) would take minutes; the hang watch restarts it.
    wait_for(lambda: _replica(ml_client)["pid"] != before["pid"], 30, "the hung replica restart")
    wait_for(lambda: _post(http, ml_client, {}).status_code == 200, 30, "a served request")
    after = _replica(ml_client)
    assert after["restarts"] == int(before["restarts"]) + 1  # type: ignore[call-overload]
    assert metric(http, ml_client, "ferry_online_replica_restarts_total", deployment="main") >= 1
    logs = ml_client.online_deployments.get_logs("main", "hang-ep", lines=50)
    assert "run() did not return within 3000 ms" in logs
