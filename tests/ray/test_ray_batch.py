"""Batch jobs on a real local multi-node Ray cluster, through the real server, SDK and CLI.

The deployment's ``compute`` names a compute of type ``ray``; each worker is a Ray actor. Whatever
happens to an actor, its process or its node, the job's journal (on the server) decides what ran:
every input item appears exactly once in ``predictions.csv``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from ferry import BatchDeployment, BatchEndpoint, Input, MLClient, Model
from ferry.client import BatchJob
from ferry.local_workspace.launcher import server_status, start_background
from ferry.specs.batch import BatchDeploymentSettings, CodeConfigurationSpec, ResourceSettings
from tests.batch_e2e.conftest import make_inputs, write_script
from tests.ray.conftest import Ferried, RayCluster, placements, wait_for

pytestmark = pytest.mark.ray

SCRIPT = """
import os
import time
from pathlib import Path

DELAY = float(os.environ.get("DELAY", "0"))

def init():
    print(f"init in {os.getcwd()}", flush=True)

def run(mini_batch):
    time.sleep(DELAY * len(mini_batch))
    print(f"scored {len(mini_batch)}", flush=True)
    return [f"{Path(p).name} {Path(p).read_text()}" for p in mini_batch]
"""


def _deploy(
    f: Ferried, tmp: Path, name: str, compute: str, *, instances: int, delay: float = 0.0
) -> None:
    f.client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=name))
    weights = tmp / f"{name}.bin"
    weights.write_bytes(b"w")
    f.client.batch_deployments.begin_create_or_update(
        BatchDeployment(
            name="d",
            endpoint_name=name,
            model=Model(name=f"{name}-model", path=str(weights)),
            code_configuration=CodeConfigurationSpec(
                code=str(write_script(tmp / f"{name}-code", SCRIPT)), scoring_script="driver.py"
            ),
            environment="ferry:server-python",
            compute=f"azureml:{compute}",
            resources=ResourceSettings(instance_count=instances, cpus_per_worker=1),
            settings=BatchDeploymentSettings(
                mini_batch_size=20, environment_variables={"DELAY": str(delay)}
            ),
        )
    )


def _invoke(f: Ferried, tmp: Path, endpoint: str, count: int) -> BatchJob:
    inputs = make_inputs(tmp / f"{endpoint}-in", count)
    return f.client.batch_endpoints.invoke(endpoint_name=endpoint, input=Input(path=str(inputs)))


def _exactly_once(f: Ferried, tmp: Path, job: str, count: int) -> None:
    out = f.client.jobs.download(job, download_path=str(tmp / f"dl-{job}"))
    frame = pd.read_csv(out / "predictions.csv", header=None, names=["file", "v"], sep=" ")
    assert sorted(frame["v"]) == list(range(count))
    assert sorted(frame["file"]) == [f"item-{i:05d}.txt" for i in range(count)]


def _job_dir(f: Ferried, job: str) -> Path:
    return f.workspace / "blobstore" / "azureml" / job


def _progress(f: Ferried, job: str) -> int:
    return int((f.client.jobs.get(job).progress or {}).get("items_succeeded", 0))


def test_2000_items_over_two_nodes_exactly_once(
    ferried: Ferried, cluster_compute: str, ray_cluster: RayCluster, tmp_path: Path
) -> None:
    # 5 ms per item: long enough that both workers start (on their nodes) and take work.
    _deploy(ferried, tmp_path, "ray-spread", cluster_compute, instances=2, delay=0.005)
    job = _invoke(ferried, tmp_path, "ray-spread", 2000)
    done = ferried.client.jobs.wait(job.name, timeout=240)
    assert done.status == "Completed", done.error
    _exactly_once(ferried, tmp_path, job.name, 2000)

    job_dir = _job_dir(ferried, job.name)
    nodes = {node for node, _ in placements(job_dir).values()}
    assert len(nodes) == 2, f"SPREAD put the 2 workers on {nodes}"
    # The scripts' own output came back from the nodes into the job's logs.
    stdout = "".join(
        p.read_text(encoding="utf-8") for p in (job_dir / "logs/user/stdout").glob("*.txt")
    )
    assert stdout.count("scored ") == 100  # 2000 items / 20 per mini-batch
    # The code folder reached each node by content hash, unpacked once in each node's cache.
    for node in nodes:
        cache = ray_cluster.cache_of(node)
        unpacked = list((cache / "code").iterdir())
        assert unpacked and all((d / "driver.py").is_file() for d in unpacked)
        assert f"init in {cache / 'code'}" in stdout


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def test_kill_9_of_a_worker_and_of_an_actor_mid_job_gives_exactly_once(
    ferried: Ferried, cluster_compute: str, tmp_path: Path
) -> None:
    _deploy(ferried, tmp_path, "ray-kill", cluster_compute, instances=2, delay=0.01)
    job = _invoke(ferried, tmp_path, "ray-kill", 600)
    job_dir = _job_dir(ferried, job.name)
    first = wait_for(lambda: len(placements(job_dir)) >= 2 and placements(job_dir), 120, "workers")
    wait_for(lambda: _progress(ferried, job.name) >= 60, 120, "progress")
    (_, (_, pid1)), (w2, (_, pid2)) = sorted(first.items())[:2]
    os.kill(pid1, signal.SIGKILL)  # the worker process on its node
    actor = _parent(pid2)
    os.kill(actor, signal.SIGKILL)  # the Ray actor: its worker must die with it
    wait_for(lambda: not Path(f"/proc/{pid2}").exists(), 30, f"worker {pid2} to die with its actor")

    done = ferried.client.jobs.wait(job.name, timeout=240)
    assert done.status == "Completed", done.error
    _exactly_once(ferried, tmp_path, job.name, 600)
    assert len(placements(job_dir)) > 2, "the engine started replacements for the killed workers"
    stderr = (job_dir / "logs/user/stderr" / f"{w2}.txt").read_text(encoding="utf-8")
    assert f"the Ray actor of {w2} died" in stderr


def test_removing_a_worker_node_mid_job_gives_exactly_once(
    ferried: Ferried, cluster_compute: str, ray_cluster: RayCluster, tmp_path: Path
) -> None:
    extra = ray_cluster.add_node()  # so that the cluster keeps room for the later tests
    removable = {n.node_id[:8]: n for n in (ray_cluster.worker, extra)}  # not the head
    _deploy(ferried, tmp_path, "ray-node", cluster_compute, instances=3, delay=0.01)
    job = _invoke(ferried, tmp_path, "ray-node", 600)
    job_dir = _job_dir(ferried, job.name)
    found = wait_for(lambda: len(placements(job_dir)) >= 3 and placements(job_dir), 120, "workers")
    doomed = [removable[n[-8:]] for n, _ in found.values() if n[-8:] in removable]
    assert doomed, f"no worker runs on a worker node: {found}"
    wait_for(lambda: _progress(ferried, job.name) >= 60, 120, "progress")
    ray_cluster.cluster.remove_node(doomed[0], allow_graceful=False)

    done = ferried.client.jobs.wait(job.name, timeout=240)
    assert done.status == "Completed", done.error
    _exactly_once(ferried, tmp_path, job.name, 600)


def test_the_next_job_starts_on_warm_actors(
    ferried: Ferried, cluster_compute: str, tmp_path: Path
) -> None:
    _deploy(ferried, tmp_path, "ray-warm", cluster_compute, instances=1)
    for count in (10, 20):
        job = _invoke(ferried, tmp_path, "ray-warm", count)
        done = ferried.client.jobs.wait(job.name, timeout=120)
        assert done.status == "Completed", done.error
        _exactly_once(ferried, tmp_path, job.name, count)
    # The second job's worker reused the actor (a Ray worker process) the first one left.
    stderr = (_job_dir(ferried, job.name) / "logs/user/stderr/process000.txt").read_text()
    assert "(a warm actor)" in stderr


def test_server_restart_mid_job_resumes_on_the_cluster(
    ferried: Ferried, cluster_compute: str, tmp_path: Path
) -> None:
    _deploy(ferried, tmp_path, "ray-restart", cluster_compute, instances=2, delay=0.01)
    job = _invoke(ferried, tmp_path, "ray-restart", 600)
    job_dir = _job_dir(ferried, job.name)
    wait_for(lambda: _progress(ferried, job.name) >= 60, 120, "progress")
    before = placements(job_dir)
    info = server_status(ferried.settings)
    assert info is not None
    os.kill(int(info["pid"]), signal.SIGKILL)
    os.waitpid(int(info["pid"]), 0)
    # A dead driver takes its actors along, and each actor its worker process.
    for _, pid in before.values():
        wait_for(lambda pid=pid: not Path(f"/proc/{pid}").exists(), 60, f"worker {pid} to end")

    start_background(ferried.settings)  # the restarted server resumes the job by itself
    ferried.client.close()
    ferried.client = MLClient(settings=ferried.settings)  # the new server has a new port
    done = ferried.client.jobs.wait(job.name, timeout=240)
    assert done.status == "Completed", done.error
    _exactly_once(ferried, tmp_path, job.name, 600)
    after = placements(job_dir)
    assert set(after) - set(before), "the restarted server started new workers on the cluster"


def test_unreachable_cluster_fails_the_job_naming_the_address_and_the_fix(
    ferried: Ferried, tmp_path: Path
) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"127.0.0.1:{port}"
    # Registered as Azure's cluster YAML is written, with Ray's type and address.
    yml = tmp_path / "cluster.yml"
    yml.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json\n"
        f"name: nowhere\ntype: ray\naddress: {address}\nsize: STANDARD_DS3_v2\n"
        "min_instances: 0\nmax_instances: 2\nidle_time_before_scale_down: 120\n",
        encoding="utf-8",
    )
    ferried.cli("compute", "create", "--file", yml)
    shown = ferried.cli.json("compute", "show", "--name", "nowhere")
    assert (shown["type"], shown["address"], shown["max_instances"]) == ("ray", address, 2)
    _deploy(ferried, tmp_path, "ray-nowhere", "nowhere", instances=1)
    job = _invoke(ferried, tmp_path, "ray-nowhere", 5)
    done = ferried.client.jobs.wait(job.name, timeout=120)
    assert done.status == "Failed"
    assert f"cannot reach the Ray cluster at {address}" in str(done.error)
    assert "ferry compute create --name <compute> --type ray --address" in str(done.error)


def test_without_ray_installed_the_error_says_how_to_install_it() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["ray"] = None  # as if the ray extra were not installed
        from ferry.backends.ray import RayCompute
        from ferry.errors import ServerError
        try:
            RayCompute("ray://head:10001")
        except ServerError as exc:
            print(exc.message)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "ray is not installed on the server" in result.stdout
    assert "pip install 'ferry[ray]'" in result.stdout
