"""A server off the cluster: the compute's address is the head's Ray Client server (``ray://``).

This module's server is its own (a server drives one cluster, and the other modules' servers
drive it by its GCS address), so its driver is a Ray Client session through the head.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ray.conftest import Ferried, RayCluster, placements
from tests.ray.test_ray_batch import _deploy, _exactly_once, _invoke, _job_dir

pytestmark = pytest.mark.ray


def test_a_batch_job_through_ray_client_completes_on_the_cluster(
    ferried: Ferried, ray_cluster: RayCluster, tmp_path: Path
) -> None:
    address = ray_cluster.client_address
    ferried.cli(
        "compute", "create", "--name", "rayclient", "--type", "ray", "--address", address,
        "--max-instances", "2",
    )  # fmt: skip
    assert ferried.cli.json("compute", "show", "--name", "rayclient")["address"] == address
    _deploy(ferried, tmp_path, "ray-client", "rayclient", instances=2)
    job = _invoke(ferried, tmp_path, "ray-client", 60)
    done = ferried.client.jobs.wait(job.name, timeout=180)
    assert done.status == "Completed", done.error
    _exactly_once(ferried, tmp_path, job.name, 60)
    # The workers ran as actors on the cluster's nodes, their output pulled back through Ray Client.
    job_dir = _job_dir(ferried, job.name)
    assert placements(job_dir), "no worker says which Ray node it ran on"
    stdout = "".join(p.read_text(encoding="utf-8") for p in job_dir.glob("logs/user/stdout/*.txt"))
    assert "scored 20" in stdout


def test_a_ray_client_session_whose_server_failed_to_start_is_tried_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ferry.backends import ray as backend
    from ferry.errors import ServerError

    calls: list[str] = []

    def init(address: str, **_: object) -> None:
        calls.append(address)
        if len(calls) == 1:  # the head's client server could not start this session's process
            raise ConnectionError(
                "Initialization failure from server: RuntimeError: Starting Ray "
                "client server failed. See ray_client_server_23000.err"
            )

    monkeypatch.setattr(backend, "_probe", lambda address: None)
    monkeypatch.setattr(backend, "_connected", None)
    monkeypatch.setattr(backend.ray, "init", init)
    backend.connect("ray://head:10001")
    assert calls == ["ray://head:10001", "ray://head:10001"]

    # Any other failure is not retried, and names the address.
    def refused(address: str, **_: object) -> None:
        calls.append(address)
        raise ConnectionError("version mismatch")

    monkeypatch.setattr(backend, "_connected", None)
    monkeypatch.setattr(backend.ray, "init", refused)
    calls.clear()
    with pytest.raises(
        ServerError, match=r"cannot connect to the Ray cluster at ray://other:10001"
    ):
        backend.connect("ray://other:10001")
    assert calls == ["ray://other:10001"]
