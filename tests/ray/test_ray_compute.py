"""RayCompute under the engine directly (this test process is the driver), and its settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ferry.errors import InvalidInputError
from tests.batch.conftest import Jobs
from tests.ray.conftest import RayCluster, placements

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


def _both_workers_start(barrier: Path) -> str:
    """An entry script (printing its interpreter) whose first run() waits, up to 15 s, until
    two workers have reached run(), so neither takes all the mini-batches before the other is
    up."""
    barrier.mkdir()
    return (
        "import os\nimport sys\nimport time\n\nimport six\n\n"
        "def init():\n    print('interpreter', sys.executable, six.__version__, flush=True)\n\n"
        "def run(mini_batch):\n"
        f"    barrier = {str(barrier)!r}\n"
        "    open(os.path.join(barrier, str(os.getpid())), 'w').close()\n"
        "    until = time.monotonic() + 15\n"
        "    while len(os.listdir(barrier)) < 2 and time.monotonic() < until:\n"
        "        time.sleep(0.05)\n"
        "    return mini_batch\n"
    )


def test_each_node_builds_the_environment_once_in_its_own_cache_and_reuses_it(
    driver: str, ray_cluster: RayCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ferry.backends.ray import RayCompute
    from ferry.batch.engine import run_job
    from ferry.environments import env_hash, normalize_requirements

    # On one machine the server's path is always there: make each node build its own copy.
    monkeypatch.setenv("FERRY_RAY_BUILD_ENVIRONMENTS", "always")
    python = _server_environment(tmp_path / "server-envs", ["six==1.16.0"])
    digest = env_hash(normalize_requirements(["six==1.16.0"]))
    jobs = Jobs(tmp_path)
    # Each worker's first run() waits for the other's, so both start (SPREAD: one per node) before
    # the first could take all the mini-batches.
    script = jobs.script(_both_workers_start(tmp_path / "first"))

    # Two workers, SPREAD over the two nodes: each node builds in its own cache.
    first = jobs.job(jobs.files(8), script, python=str(python), instance_count=2, mini_batch_size=1)
    outcome = run_job(first, compute=RayCompute(driver))
    assert outcome.state == "Completed", outcome.message
    nodes = {node for node, _ in placements(first).values()}
    assert len(nodes) == 2, f"SPREAD put the 2 workers on {nodes}"
    node_envs = {ray_cluster.cache_of(node) / "envs" / digest for node in nodes}
    assert len(node_envs) == 2, f"the nodes share a cache: {node_envs}"
    stdout, stderr = _logs(first, "stdout"), _logs(first, "stderr")
    for node_env in node_envs:
        assert f"interpreter {node_env}/bin/python 1.16.0" in stdout
    assert stderr.count(f"environment {digest[:12]} built in") == 2, stderr
    built_at = {e: (e / ".ferry-env.json").read_text(encoding="utf-8") for e in node_envs}

    # The next job's workers, on both nodes again, reuse each node's build.
    script = jobs.script(_both_workers_start(tmp_path / "second"))
    second = jobs.job(
        jobs.files(8, folder="more"),
        script,
        python=str(python),
        instance_count=2,
        mini_batch_size=1,
    )
    outcome = run_job(second, compute=RayCompute(driver))
    assert outcome.state == "Completed", outcome.message
    assert {node for node, _ in placements(second).values()} == nodes
    stderr = _logs(second, "stderr")
    assert stderr.count(f"environment {digest[:12]} reused in this node's cache") == 2, stderr
    assert "built in" not in stderr
    for node_env in node_envs:  # not rebuilt
        assert (node_env / ".ferry-env.json").read_text(encoding="utf-8") == built_at[node_env]


def _forget_failed_builds(ray_cluster: RayCluster) -> None:
    """Test-only: every node forgets the builds that failed on it (as after the TTL)."""
    for cache in ray_cluster.caches.values():
        for record in (cache / "failed-builds").glob("*.json"):
            record.unlink()


def test_a_failed_build_fails_the_job_with_uvs_message_and_is_cached_on_the_node(
    driver: str, ray_cluster: RayCluster, tmp_path: Path
) -> None:
    import json

    from ferry.backends.ray import RayCompute
    from ferry.batch.engine import run_job
    from ferry.environments import ResolutionPolicy, env_hash, normalize_requirements
    from ferry.environments.recipe import RECIPE_FILE, to_recipe

    # What the server built from an index the nodes cannot use: the node's build finds no such
    # package. Its interpreter is not on the node, so the node must build.
    _forget_failed_builds(ray_cluster)
    server_env = tmp_path / "server-envs" / "not-on-the-node"
    resolved = normalize_requirements(["ferry-no-such-package-x7q"])
    recipe = to_recipe(resolved, ResolutionPolicy())
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
    # The node that failed remembers it, with uv's message.
    digest = env_hash(resolved, ResolutionPolicy())
    records = [c / "failed-builds" / f"{digest}.json" for c in ray_cluster.caches.values()]
    recorded = [json.loads(r.read_text(encoding="utf-8")) for r in records if r.is_file()]
    assert recorded, "no node recorded the failed build"
    assert all("not found in the package registry" in r["message"] for r in recorded)

    # The same environment again: its starts fail at once with the same message, said cached.
    # (Its 3 starts over 2 nodes meet a node that already failed at least once.)
    again = jobs.job(jobs.files(2, folder="again"), script, python=str(python), instance_count=1)
    outcome = run_job(again, compute=RayCompute(driver))
    assert outcome.state == "Failed"
    assert "ferry-no-such-package-x7q" in outcome.message
    assert "not found in the package registry" in outcome.message
    stderr = _logs(again, "stderr")
    assert "failed: cached: this node's build failed" in stderr, stderr
    assert "FERRY_RAY_FAILED_BUILD_TTL=600 s, or remove " in stderr
    _forget_failed_builds(ray_cluster)


def test_a_failed_build_is_forgotten_after_its_ttl(tmp_path: Path) -> None:
    import json
    import time

    from ferry.backends.ray import _recorded_failure

    record = tmp_path / "abc.json"
    record.write_text(json.dumps({"message": "uv: no such package", "at": time.time() - 700}))
    cached = str(_recorded_failure(record, 1000))
    assert cached.startswith("cached: this node's build failed 70")
    assert cached.endswith(f"or remove {record} to retry now. uv: no such package")
    assert _recorded_failure(record, 600) is None  # expired: built again, and the record gone
    assert not record.exists()
    record.write_text(json.dumps({"message": "uv: no such package", "at": time.time()}))
    assert _recorded_failure(record, 0) is None  # FERRY_RAY_FAILED_BUILD_TTL=0: no memory


def _logs(job: Path, stream: str) -> str:
    return "".join(
        p.read_text(encoding="utf-8", errors="replace")
        for p in sorted((job / "logs" / "user" / stream).glob("*.txt"))
    )
