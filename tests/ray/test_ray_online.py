"""Online deployments whose replicas are Ray actors, through the real server, SDK and gateway.

The deployment's ``compute`` names a registered compute of type ``ray``: each replica is one
actor (on either node of the session's cluster) whose worker process connects back to the
gateway over TCP. The gateway, probes, restarts and traffic split are the same as locally.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferry import ManagedOnlineDeployment
from ferry.errors import FerryError
from tests.online.conftest import deploy, make_endpoint, scoring, write_code
from tests.ray.conftest import Ferried, RayCluster, wait_for

pytestmark = pytest.mark.ray

SCRIPT = """
import os

def init():
    print(f"init {os.environ['COLOR']}", flush=True)

def run(raw):
    # Ray sets OMP_NUM_THREADS to the CPUs its actor asked for; the worker inherits it.
    cpus = os.environ.get("OMP_NUM_THREADS")
    return {"color": os.environ["COLOR"], "pid": os.getpid(), "cpus": cpus}
"""

ENDPOINT = "ray-online"
_RUNS_ON = re.compile(r"\[ferry\] \S+ runs on Ray node (\S+), pid (\d+)")


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30.0, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        yield client


@pytest.fixture(scope="module")
def online_compute(ferried: Ferried, ray_cluster: RayCluster) -> str:
    ferried.cli(
        "compute", "create", "--name", "rayonline", "--type", "ray",
        "--address", ray_cluster.address,
    )  # fmt: skip
    return "rayonline"


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_code(tmp_path_factory.mktemp("online-code"), SCRIPT)


@pytest.fixture(scope="module")
def blue(ferried: Ferried, online_compute: str, code: Path) -> str:
    """The endpoint with deployment blue on the cluster, taking all the traffic."""
    make_endpoint(ferried.client, ENDPOINT)
    _deploy(ferried, code, "blue", online_compute)
    return "blue"


def _deploy(f: Ferried, code: Path, name: str, compute: str, **fields: Any) -> None:
    deploy(
        f.client,
        ENDPOINT,
        name,
        code,
        compute=f"azureml:{compute}",
        environment_variables={"COLOR": name},
        timeout=120,
        **fields,
    )


def _replica(f: Ferried, name: str) -> dict[str, Any]:
    replicas = f.client.online_deployments.get(name, ENDPOINT).replicas
    assert len(replicas) == 1, replicas
    return replicas[0]


def _parent(pid: int) -> int:
    """The parent of ``pid`` (field 4 of /proc/<pid>/stat, after the parenthesised name)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def test_a_replica_on_ray_answers_and_comes_back_after_its_actor_is_killed(
    ferried: Ferried, blue: str, http: httpx.Client
) -> None:
    uri, headers = scoring(ferried.client, ENDPOINT)
    answer = http.post(uri, json={"data": [1]}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["color"] == "blue"

    replica = _replica(ferried, "blue")
    assert replica["state"] == "Ready"
    log = Path(replica["log_file"])
    # The actor's node reported where the worker runs; its output came back into the log.
    placed = _RUNS_ON.findall(log.read_text(encoding="utf-8"))
    assert placed and int(placed[-1][1]) == replica["pid"] == answer.json()["pid"]
    # Pulled from the actor every LOG_PULL_SECONDS.
    wait_for(lambda: "init blue" in log.read_text(encoding="utf-8"), 10, "init's output")
    # The worker's parent is the Ray actor's process (the local cluster's nodes are this machine).
    actor_pid = _parent(replica["pid"])
    assert Path(f"/proc/{actor_pid}/cmdline").read_bytes().startswith(b"ray::")

    os.kill(actor_pid, signal.SIGKILL)  # the actor; its worker dies with it (PDEATHSIG)

    def restarted() -> dict[str, Any] | None:
        now = _replica(ferried, "blue")
        ok = now["restarts"] >= 1 and now["state"] == "Ready" and now["pid"] != replica["pid"]
        return now if ok else None

    after = wait_for(restarted, 90, "the supervisor to restart the killed replica on Ray")
    answer = http.post(uri, json={"data": [2]}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"color": "blue", "pid": after["pid"], "cpus": "1"}
    text = log.read_text(encoding="utf-8")
    assert text.count("ferry: starting replica blue-0 ---") == 2
    # The restart waited for RayWorker to see the actor's end, and its exit was described.
    died = text.index("ferry: replica blue-0 was killed by SIGKILL ---")
    assert died < text.rindex("ferry: starting replica blue-0 ---")
    assert "the Ray actor of blue-0." in text and " died" in text
    assert len(_RUNS_ON.findall(text)) == 2


def test_two_deployments_on_ray_split_the_traffic(
    ferried: Ferried, online_compute: str, blue: str, code: Path, http: httpx.Client
) -> None:
    # Kubernetes' requests become the actor's: 2 CPUs (a whole node) and 64 MiB.
    resources = {"requests": {"cpu": "2000m", "memory": "64Mi"}}
    _deploy(ferried, code, "green", online_compute, all_traffic=False, resources=resources)
    endpoint = ferried.client.online_endpoints.get(ENDPOINT)
    endpoint.traffic = {"blue": 50, "green": 50}
    ferried.client.online_endpoints.begin_create_or_update(endpoint).result()
    uri, headers = scoring(ferried.client, ENDPOINT)
    served: list[str] = []
    for i in range(60):
        answer = http.post(uri, json={"data": [i]}, headers=headers)
        assert answer.status_code == 200, answer.text
        color = answer.json()["color"]
        assert color == answer.headers["azureml-model-deployment"]
        assert answer.json()["cpus"] == {"blue": "1", "green": "2"}[color]
        served.append(color)
    # A weighted random choice: with 60 requests at 50/50, fewer than 10 on one side is ~1e-7.
    assert served.count("blue") + served.count("green") == 60
    assert min(served.count("blue"), served.count("green")) >= 10, served
    for name in ("blue", "green"):
        log = Path(_replica(ferried, name)["log_file"]).read_text(encoding="utf-8")
        assert _RUNS_ON.search(log), f"{name}'s replica did not run on a Ray node"


def test_an_unregistered_compute_fails_the_deployment_naming_it(
    ferried: Ferried, code: Path
) -> None:
    make_endpoint(ferried.client, "ray-nowhere")
    with pytest.raises(FerryError) as failed:
        ferried.client.online_deployments.begin_create_or_update(
            ManagedOnlineDeployment(
                name="nowhere",
                endpoint_name="ray-nowhere",
                code_path=str(code),
                scoring_script="score.py",
                environment="ferry:server-python",
                compute="azureml:no-such-cluster",
            )
        ).result(timeout=60)
    assert "compute 'no-such-cluster' of online deployment 'nowhere' is not registered" in str(
        failed.value
    )
    assert "ferry compute create --name no-such-cluster --type ray" in str(failed.value)


def test_a_cpu_request_that_is_no_quantity_is_named(
    ferried: Ferried, online_compute: str, code: Path
) -> None:
    make_endpoint(ferried.client, "ray-badcpu")
    with pytest.raises(FerryError) as failed:
        ferried.client.online_deployments.begin_create_or_update(
            ManagedOnlineDeployment(
                name="greedy",
                endpoint_name="ray-badcpu",
                code_path=str(code),
                scoring_script="score.py",
                environment="ferry:server-python",
                compute=f"azureml:{online_compute}",
                resources={"requests": {"cpu": "lots"}},
            )
        ).result(timeout=60)
    assert "resources.requests.cpu 'lots' is not a CPU quantity; write e.g. 1, 0.5 or 500m" in (
        str(failed.value)
    )
