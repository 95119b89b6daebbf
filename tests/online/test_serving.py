"""The gateway's status codes, replica crashes and probes, against real replicas."""

from __future__ import annotations

import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from ferry import MLClient
from tests.online.conftest import deploy, make_endpoint, metric, scoring, wait_for, write_code

SCRIPT = """
import json
import time

def init():
    print("ready to score", flush=True)

def run(raw):
    data = json.loads(raw)
    if "sleep" in data:
        time.sleep(data["sleep"])
    if data.get("boom"):
        raise ValueError("boom requested: " + str(data["boom"]))
    if data.get("hang"):
        time.sleep(3600)
    return {"ok": True, "echo": data}
"""


@pytest.fixture(scope="module")
def served(ml_client: MLClient, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Endpoint status-ep: deployment main, 1 instance, 700 ms timeout, probes every second."""
    code = write_code(tmp_path_factory.mktemp("serving"), SCRIPT)
    make_endpoint(ml_client, "status-ep")
    probe = {"initial_delay": 0, "period": 1, "timeout": 1, "failure_threshold": 3}
    deploy(
        ml_client,
        "status-ep",
        "main",
        code,
        request_settings={"request_timeout_ms": 700, "max_queue_wait_ms": 300},
        liveness_probe=probe,
        max_request_body_mb=0.01,
    )
    return code


def _post(http: httpx.Client, ml_client: MLClient, body: object) -> httpx.Response:
    uri, headers = scoring(ml_client, "status-ep")
    return http.post(uri, content=json.dumps(body), headers=headers)


def test_script_error_is_424_with_azure_headers(
    ml_client: MLClient, served: Path, http: httpx.Client
) -> None:
    response = _post(http, ml_client, {"boom": "please"})
    assert response.status_code == 424
    assert response.headers["ms-azureml-model-error-statuscode"] == "500"
    assert response.headers["ms-azureml-model-error-reason"] == "ValueError: boom requested: please"
    assert "get-logs --name main --endpoint-name status-ep" in response.json()["message"]
    assert _post(http, ml_client, {"x": 1}).json() == {"ok": True, "echo": {"x": 1}}
    logs = ml_client.online_deployments.get_logs("main", "status-ep", lines=40)
    assert "ValueError: boom requested: please" in logs


def test_slow_request_is_408(ml_client: MLClient, served: Path, http: httpx.Client) -> None:
    response = _post(http, ml_client, {"sleep": 1.2})
    assert response.status_code == 408
    assert "request_timeout_ms 700" in response.json()["message"]
    wait_for(lambda: _post(http, ml_client, {"x": 2}).status_code == 200, 5, "recovery")


def test_large_body_is_413(ml_client: MLClient, served: Path, http: httpx.Client) -> None:
    response = _post(http, ml_client, {"blob": "x" * 20000})
    assert response.status_code == 413
    assert "raise max_request_body_mb" in response.json()["message"]


def test_overload_is_429_and_the_server_keeps_serving(
    ml_client: MLClient, served: Path, http: httpx.Client
) -> None:
    with ThreadPoolExecutor(6) as pool:
        codes = list(
            pool.map(lambda _: _post(http, ml_client, {"sleep": 0.4}).status_code, range(6))
        )
    assert 200 in codes and 429 in codes, codes
    assert set(codes) <= {200, 429}
    assert _post(http, ml_client, {"x": 3}).status_code == 200
    assert metric(http, ml_client, "ferry_online_requests_total", code="429") >= codes.count(429)


def test_killed_replica_gives_503_then_recovers(
    ml_client: MLClient, served: Path, http: httpx.Client
) -> None:
    before = ml_client.online_deployments.get("main", "status-ep").replicas[0]
    os.kill(before["pid"], signal.SIGKILL)
    codes: list[int] = []

    def recovered() -> bool:
        codes.append(_post(http, ml_client, {"x": 4}).status_code)
        return codes[-1] == 200

    wait_for(recovered, 20, "the replica to be restarted")
    assert 503 in codes, codes
    after = ml_client.online_deployments.get("main", "status-ep").replicas[0]
    assert after["pid"] != before["pid"] and after["restarts"] == before["restarts"] + 1
    assert metric(http, ml_client, "ferry_online_replica_restarts_total", deployment="main") >= 1


def test_hung_replica_is_restarted(ml_client: MLClient, served: Path, http: httpx.Client) -> None:
    # Whichever comes first restarts it: the hang watch (one more request_timeout_ms) or the
    # liveness probe (3 x 1 s here); tests/online/test_hangs.py has the watch alone.
    before = ml_client.online_deployments.get("main", "status-ep").replicas[0]
    assert _post(http, ml_client, {"hang": True}).status_code == 408
    wait_for(
        lambda: (
            ml_client.online_deployments.get("main", "status-ep").replicas[0]["pid"]
            != before["pid"]
        ),
        20,
        "the hung replica to be restarted",
    )
    wait_for(lambda: _post(http, ml_client, {"x": 5}).status_code == 200, 10, "recovery")
    logs = ml_client.online_deployments.get_logs("main", "status-ep", lines=5)
    assert len(logs.splitlines()) <= 5


def test_aml_token_auth(ml_client: MLClient, tmp_path: Path, http: httpx.Client) -> None:
    make_endpoint(ml_client, "token-ep", auth_mode="aml_token")
    code = write_code(tmp_path, "def init():\n    pass\n\ndef run(raw):\n    return raw\n")
    deploy(ml_client, "token-ep", "main", code)
    token = ml_client.online_endpoints.get_keys("token-ep")
    assert token.token_type == "Bearer"  # type: ignore[union-attr]
    assert token.expiry_time_utc > token.refresh_after_time_utc  # type: ignore[union-attr]
    uri = ml_client.online_endpoints.get("token-ep").scoring_uri
    assert uri is not None
    auth = {"Authorization": f"Bearer {token.access_token}"}  # type: ignore[union-attr]
    assert http.post(uri, content=b'"hi"', headers=auth).json() == '"hi"'
    forged = token.access_token[:-2] + "xx"  # type: ignore[union-attr]
    assert (
        http.post(uri, content=b"1", headers={"Authorization": f"Bearer {forged}"}).status_code
        == 401
    )
    # A token of one endpoint does not open another.
    other = scoring(ml_client, "status-ep")[0]
    assert http.post(other, content=b"{}", headers=auth).status_code == 401
    from ferry.errors import ConflictError

    with pytest.raises(ConflictError, match="uses aml_token auth"):
        ml_client.online_endpoints.begin_regenerate_keys("token-ep")


def test_unknown_endpoint_and_no_traffic_are_404(
    ml_client: MLClient, tmp_path: Path, http: httpx.Client
) -> None:
    missing = http.post(ml_client.server_url + "/endpoints/nowhere-ep/score", content=b"{}")
    assert missing.status_code == 404
    assert "there is no online endpoint 'nowhere-ep'" in missing.json()["message"]
    make_endpoint(ml_client, "idle-ep")
    code = write_code(tmp_path, "def init():\n    pass\n\ndef run(raw):\n    return raw\n")
    deploy(ml_client, "idle-ep", "main", code, all_traffic=False)
    uri, headers = scoring(ml_client, "idle-ep")
    response = http.post(uri, content=b"{}", headers=headers)
    assert response.status_code == 404
    assert "No valid deployments to route to" in response.json()["message"]
    pinned = http.post(uri, content=b"{}", headers={**headers, "azureml-model-deployment": "main"})
    assert pinned.status_code == 200


def test_deleting_an_endpoint_stops_its_replicas(
    ml_client: MLClient, tmp_path: Path, http: httpx.Client
) -> None:
    make_endpoint(ml_client, "gone-ep")
    code = write_code(tmp_path, "def init():\n    pass\n\ndef run(raw):\n    return raw\n")
    pids = [r["pid"] for r in deploy(ml_client, "gone-ep", "main", code, instance_count=2).replicas]
    assert len(pids) == 2
    ml_client.online_endpoints.begin_delete("gone-ep").result()

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(lambda: all(gone(p) for p in pids), 10, "the replicas to exit")
    assert http.post(ml_client.server_url + "/endpoints/gone-ep/score").status_code == 404
