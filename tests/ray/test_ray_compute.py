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


def _server_environment(root: Path, requirements: list[str]) -> Path:
    """An environment as the server leaves it: built (with its recipe) under ``root``."""
    from ferry.environments import EnvironmentBuilder, normalize_requirements

    return EnvironmentBuilder(root).ensure(normalize_requirements(requirements)).python


_PRINTS_ITS_PYTHON = (
    "import sys\n\nimport six\n\n"
    "def init():\n    print('interpreter', sys.executable, six.__version__, flush=True)\n\n"
    "def run(mini_batch):\n    return mini_batch\n"
)


def test_a_node_builds_the_environment_in_its_own_cache_once_and_reuses_it(
    driver: str, ray_cluster: RayCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ferry.backends.ray import RayCompute
    from ferry.batch.engine import run_job
    from ferry.environments import env_hash, normalize_requirements

    # On one machine the server's path is always there: make each node build its own copy.
    monkeypatch.setenv("FERRY_RAY_BUILD_ENVIRONMENTS", "always")
    python = _server_environment(tmp_path / "server-envs", ["six==1.16.0"])
    digest = env_hash(normalize_requirements(["six==1.16.0"]))
    node_env = ray_cluster.cache / "envs" / digest
    jobs = Jobs(tmp_path)
    script = jobs.script(_PRINTS_ITS_PYTHON)

    first = jobs.job(jobs.files(4), script, python=str(python), instance_count=1)
    outcome = run_job(first, compute=RayCompute(driver))
    assert outcome.state == "Completed", outcome.message
    assert f"interpreter {node_env}/bin/python 1.16.0" in _logs(first, "stdout")
    assert f"environment {digest[:12]} built in" in _logs(first, "stderr")
    built_at = (node_env / ".ferry-env.json").read_text(encoding="utf-8")

    second = jobs.job(jobs.files(4, folder="more"), script, python=str(python), instance_count=1)
    outcome = run_job(second, compute=RayCompute(driver))
    assert outcome.state == "Completed", outcome.message
    assert f"interpreter {node_env}/bin/python 1.16.0" in _logs(second, "stdout")
    assert f"environment {digest[:12]} reused in this node's cache" in _logs(second, "stderr")
    assert (node_env / ".ferry-env.json").read_text(encoding="utf-8") == built_at  # not rebuilt


def test_a_failed_build_on_a_node_fails_the_job_with_uvs_message(
    driver: str, tmp_path: Path
) -> None:
    import json

    from ferry.backends.ray import RayCompute
    from ferry.batch.engine import run_job
    from ferry.environments import ResolutionPolicy, normalize_requirements
    from ferry.environments.recipe import RECIPE_FILE, to_recipe

    # What the server built from an index the nodes cannot use: the node's build finds no such
    # package. Its interpreter is not on the node, so the node must build.
    server_env = tmp_path / "server-envs" / "not-on-the-node"
    recipe = to_recipe(normalize_requirements(["ferry-no-such-package-x7q"]), ResolutionPolicy())
    server_env.mkdir(parents=True)
    (server_env / RECIPE_FILE).write_text(json.dumps(recipe), encoding="utf-8")
    python = server_env / "bin" / "python"
    assert not python.exists()
    jobs = Jobs(tmp_path)
    script = jobs.script("def init():\n    pass\n\ndef run(mini_batch):\n    return mini_batch\n")
    job = jobs.job(jobs.files(2), script, python=str(python), instance_count=1)
    outcome = run_job(job, compute=RayCompute(driver))
    assert outcome.state == "Failed"
    assert "the worker failed to start" in outcome.message
    assert "on Ray node" in outcome.message
    assert "ferry-no-such-package-x7q" in outcome.message
    assert "not found in the package registry" in outcome.message


def _logs(job: Path, stream: str) -> str:
    return "".join(
        p.read_text(encoding="utf-8", errors="replace")
        for p in sorted((job / "logs" / "user" / stream).glob("*.txt"))
    )
