"""The data agent against real object stores (S3 on moto, Azure Blob on Azurite): a worker's
client fetches a mini-batch's files and commits its output files pending-then-rename, and nothing
of the credentials reaches the worker's environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ferry.datastore import Datastore, open_datastore
from ferry.runtime.data_client import DataAgentClient, DataAgentError
from ferry.specs.workspace import DatastoreSpec
from ferry.workers.data_agent import ACCESS_ENV, AGENT_ENV, DataAgent, attach_agent, data_access
from ferry.workers.spec import WorkerSpec
from tests.fixtures_services import S3_CREDENTIALS


@dataclass
class Remote:
    """An object-store datastore named ``store`` with three input files under ``in/sub``."""

    access: dict[str, Any]
    datastore: Datastore
    #: The credential's secret value, which must reach no worker.
    raw: list[str]

    def keys(self) -> list[str]:
        """Every name under the datastore's root, in-flight ones included."""
        root = self.datastore.full_path("")
        return sorted(p[len(root) + 1 :] for p in self.datastore.fs.find(root, withdirs=False))


@pytest.fixture(params=["s3", "azure_blob"])
def remote(request: pytest.FixtureRequest) -> Remote:
    if request.param == "s3":
        spec: DatastoreSpec = request.getfixturevalue("s3_spec")
        creds = dict(S3_CREDENTIALS)
    else:
        spec = request.getfixturevalue("azure_spec")
        creds = {"connection_string": request.getfixturevalue("azurite")}
    spec = spec.model_copy(update={"name": "store"})
    datastore = open_datastore(spec, creds)
    for i in range(3):
        datastore.fs.pipe_file(datastore.full_path(f"in/sub/f{i}.txt"), f"v{i}".encode())
    stored = spec.model_dump(exclude={"schema_uri", "credentials"})
    text = data_access({"store": (stored, creds)}, "azureml://datastores/store/paths/out/job1")
    secret = next(iter(creds.values()))
    return Remote(json.loads(text), datastore, [secret])


@pytest.fixture
def access(remote: Remote) -> dict[str, Any]:
    return remote.access


@pytest.fixture
def agent(access: dict[str, Any]) -> Iterator[DataAgent]:
    served = DataAgent(access)
    yield served
    served.close()


def _uris(n: int) -> list[str]:
    return [f"azureml://datastores/store/paths/in/sub/f{i}.txt" for i in range(n)]


def test_fetch_then_commit_through_the_socket(agent: DataAgent, remote: Remote) -> None:
    client = DataAgentClient(str(agent.socket_path))
    paths = client.fetch(_uris(3))
    assert [Path(p).read_text() for p in paths] == ["v0", "v1", "v2"]
    assert [Path(p).name for p in paths] == ["f0.txt", "f1.txt", "f2.txt"]  # names kept
    (agent.output_dir / "nested").mkdir()
    (agent.output_dir / "nested" / "a.png").write_bytes(b"\x89PNG")
    (agent.output_dir / "b.txt").write_text("b")
    assert client.finish(commit=True) == ["b.txt", "nested/a.png"]
    store = remote.datastore
    assert store.list_files("out/job1") == ["b.txt", "nested/a.png"]
    with store.open_read("out/job1/nested/a.png") as f:
        assert f.read() == b"\x89PNG"
    # Committed means whole: no temporary name or pending marker is left in the bucket.
    keys = remote.keys()
    assert not [k for k in keys if ".tmp-" in k or k.endswith(".ferry-pending")]
    # The scratch is cleared for the next mini-batch: fetched items and committed outputs.
    assert not any(agent.output_dir.iterdir())
    assert not any(Path(p).exists() for p in paths)


def test_a_failed_run_commits_nothing(agent: DataAgent, remote: Remote) -> None:
    client = DataAgentClient(str(agent.socket_path))
    client.fetch(_uris(1))
    (agent.output_dir / "half.txt").write_text("partial")
    assert client.finish(commit=False) == []
    assert not remote.datastore.exists("out/job1/half.txt")
    assert not any(agent.output_dir.iterdir())


def test_errors_name_the_datastore_and_path(agent: DataAgent) -> None:
    client = DataAgentClient(str(agent.socket_path))
    with pytest.raises(DataAgentError, match=r"datastore 'store' has no 'in/sub/missing.txt'"):
        client.fetch(["azureml://datastores/store/paths/in/sub/missing.txt"])
    with pytest.raises(DataAgentError, match=r"'other' was not granted to this job.*store"):
        client.fetch(["azureml://datastores/other/paths/x.txt"])
    assert client.fetch(_uris(1))[0].endswith("f0.txt")  # the connection survives errors


def test_attach_keeps_credentials_out_of_the_worker(remote: Remote) -> None:
    access = remote.access
    spec = WorkerSpec(
        worker_id="w0",
        python="/usr/bin/python3",
        entry_script="/code/score.py",
        code_dir="/code",
        connect="/tmp/sock",
        env={"AZUREML_BI_OUTPUT_PATH": "/server/job/out", "A": "1"},
        secret_env={ACCESS_ENV: json.dumps(access), "TOKEN": "t"},
    )
    started, agent = attach_agent(spec)
    assert agent is not None
    try:
        assert ACCESS_ENV not in started.secret_env and started.secret_env["TOKEN"] == "t"
        assert started.env[AGENT_ENV] == str(agent.socket_path)
        assert started.env["AZUREML_BI_OUTPUT_PATH"] == str(agent.output_dir)
        every_value = json.dumps({**started.env, **started.secret_env})
        assert remote.raw[0] not in every_value
    finally:
        agent.close()
    assert not agent.scratch.exists() and not agent.socket_path.exists()
    unchanged, none = attach_agent(WorkerSpec("w1", "p", "/s.py", "/", "/sock"))
    assert none is None and AGENT_ENV not in unchanged.env


def test_the_next_mini_batch_is_fetched_ahead_and_kept_past_finish(agent: DataAgent) -> None:
    client = DataAgentClient(str(agent.socket_path))
    first = client.fetch(_uris(1))
    client.prefetch(_uris(3)[1:])  # sent while the first one runs
    missing = ["azureml://datastores/store/paths/in/sub/missing.txt"]
    client.prefetch(missing)
    client.finish(commit=True)  # the first one's files go; the prefetched ones stay
    assert not Path(first[0]).exists()
    second = client.fetch(_uris(3)[1:])
    assert [Path(p).read_text() for p in second] == ["v1", "v2"]
    client.finish(commit=True)
    assert not any(Path(p).exists() for p in second)
    # A prefetch that failed fails the fetch of those items, with the same message.
    with pytest.raises(DataAgentError, match=r"datastore 'store' has no 'in/sub/missing.txt'"):
        client.fetch(missing)
    assert [p.name for p in (agent.scratch / "in").iterdir()] == []
