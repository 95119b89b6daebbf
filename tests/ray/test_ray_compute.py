"""RayCompute under the engine directly (this test process is the driver), and its settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ferry.errors import InvalidInputError
from tests.batch.conftest import Jobs
from tests.ray.conftest import RayCluster

pytestmark = pytest.mark.ray


@pytest.fixture
def driver(ray_cluster: RayCluster) -> Iterator[str]:
    """This process as a driver of the session's cluster, disconnected afterwards (the cluster
    cannot remove a node a driver in its own process is connected to)."""
    from ferry.backends.ray import disconnect

    yield ray_cluster.address
    disconnect()


def test_an_interpreter_missing_on_a_node_fails_the_job_with_the_nodes_message(
    driver: str, tmp_path: Path
) -> None:
    from ferry.backends.ray import RayCompute
    from ferry.batch.engine import run_job

    jobs = Jobs(tmp_path)
    script = jobs.script("def init():\n    pass\n\ndef run(mini_batch):\n    return mini_batch\n")
    job = jobs.job(jobs.files(5), script, python="/nonexistent/env/bin/python")
    outcome = run_job(job, compute=RayCompute(driver))
    assert outcome.state == "Failed"
    assert "the worker failed to start" in outcome.message
    assert (
        "the environment's interpreter /nonexistent/env/bin/python does not exist on Ray node"
        in outcome.message
    )


def test_memory_sizes_and_a_wrong_one_named_with_its_field() -> None:
    from ferry.backends.ray import parse_memory

    assert parse_memory("512Mi") == 512 * 2**20
    assert parse_memory("4Gi") == 4 * 2**30
    assert parse_memory("2G") == 2 * 10**9
    assert parse_memory("1500MB") == 1500 * 10**6
    assert parse_memory(1024) == 1024
    assert parse_memory(None) is None
    with pytest.raises(InvalidInputError, match=r"resources.memory '4 parsecs' is not a size"):
        parse_memory("4 parsecs")
