"""One real local multi-node Ray cluster per test session, and a Ferry server that drives it.

The cluster is ``ray.cluster_utils.Cluster``: a head and a worker node, each its own raylet with
its own ports and its own ``FERRY_RAY_CACHE`` (set on its raylet, which its actors inherit), as on
separate machines. Token auth stays off (``RAY_AUTH_MODE=disabled``) so the
server process can connect by address.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ferry import MLClient
from ferry.local_workspace.launcher import stop_server
from ferry.settings import Settings
from tests.cli.conftest import Ferry, make_ferry

os.environ["RAY_AUTH_MODE"] = "disabled"  # the server inherits it


@dataclass
class RayCluster:
    cluster: Any  # ray.cluster_utils.Cluster
    worker: Any  # the worker node (ray._private.node.Node)
    caches_root: Path  # one FERRY_RAY_CACHE per node below it: head/, node1/, node2/ ...
    #: ``{node id: its FERRY_RAY_CACHE}`` of every node the cluster has had.
    caches: dict[str, Path]

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    @property
    def client_address(self) -> str:
        """The head's Ray Client server (``ray://``), for a driver off the cluster."""
        return f"ray://127.0.0.1:{self.cluster.head_node._ray_params.ray_client_server_port}"

    def cache_of(self, node: str) -> Path:
        """The cache of the node a placement names (``<host>:<node id prefix>``)."""
        prefix = node.rpartition(":")[2]
        return next(path for nid, path in self.caches.items() if nid.startswith(prefix))

    def add_node(self) -> Any:
        cache = _own_cache(self.caches_root, f"node{len(self.caches)}")
        node = self.cluster.add_node(num_cpus=2, env_vars=cache)
        self.cluster.wait_for_nodes()
        self.caches[node.node_id] = Path(cache["FERRY_RAY_CACHE"])
        return node


def _own_cache(root: Path, name: str) -> dict[str, str]:
    """The raylet's environment override that gives a node (and its actors) its own cache."""
    return {"FERRY_RAY_CACHE": str(root / name)}


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    from ray.cluster_utils import Cluster

    root = tmp_path_factory.mktemp("ray-cache")
    cluster, worker = _start_cluster(Cluster, root)
    try:
        caches = {cluster.head_node.node_id: root / "head", worker.node_id: root / "node1"}
        yield RayCluster(cluster, worker, root, caches)
    finally:
        cluster.shutdown()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_cluster(cluster_type: Any, caches: Path, attempts: int = 3) -> tuple[Any, Any]:
    """A head (with a Ray Client server) and a worker node. Ray gives a raylet a fixed 30 s to
    register (node.py), which a loaded 2-core machine can miss ("timed out during startup"); a
    fresh try then succeeds."""
    for attempt in range(1, attempts + 1):
        cluster = None
        try:
            head = {"num_cpus": 2, "include_dashboard": False}
            head["ray_client_server_port"] = _free_port()  # ray:// (test_ray_client.py)
            cluster = cluster_type(
                initialize_head=True, head_node_args=head | {"env_vars": _own_cache(caches, "head")}
            )
            worker = cluster.add_node(num_cpus=2, env_vars=_own_cache(caches, "node1"))
            cluster.wait_for_nodes()
            return cluster, worker
        except Exception:
            if cluster is not None:
                cluster.shutdown()
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


@dataclass
class Ferried:
    """A workspace with its server (auto-started), through the SDK and the CLI."""

    workspace: Path
    settings: Settings
    client: MLClient
    cli: Ferry


@pytest.fixture(scope="module")
def ferried(tmp_path_factory: pytest.TempPathFactory, ray_cluster: RayCluster) -> Iterator[Ferried]:
    workspace = tmp_path_factory.mktemp("ray-ws")
    settings = Settings(workspace=workspace)
    client = MLClient(settings=settings)
    try:
        yield Ferried(workspace, settings, client, make_ferry(workspace))
    finally:
        client.close()
        stop_server(settings)


_RUNS_ON = re.compile(r"\[ferry\] (process\d+) runs on Ray node (\S+), pid (\d+)")


def placements(job_dir: Path) -> dict[str, tuple[str, int]]:
    """``{worker: (node, pid)}`` from the lines RayWorker writes into each worker's stderr log."""
    found: dict[str, tuple[str, int]] = {}
    for log in sorted((job_dir / "logs" / "user" / "stderr").glob("*.txt")):
        for match in _RUNS_ON.finditer(log.read_text(encoding="utf-8", errors="replace")):
            found[match.group(1)] = (match.group(2), int(match.group(3)))
    return found


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def cluster_compute(ferried: Ferried, ray_cluster: RayCluster) -> str:
    """The cluster, registered through the CLI as Azure's scripts register a cluster."""
    ferried.cli(
        "compute", "create", "--name", "raycluster", "--type", "ray",
        "--address", ray_cluster.address, "--max-instances", "4",
    )  # fmt: skip
    shown = ferried.cli.json("compute", "show", "--name", "raycluster")
    assert (shown["type"], shown["address"]) == ("ray", ray_cluster.address)
    return "raycluster"
