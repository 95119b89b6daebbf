"""A job's local input staged into the default datastore: by links on a local workspace, by one
archive otherwise, once per content, never half (services/staging.py, client/staging.py).

Against a real server and real workers; the REST calls are the routes the SDK uses.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferry import BatchDeployment, BatchEndpoint, Input, MLClient, Model
from ferry.archive import content_hash
from ferry.errors import InvalidInputError, NotFoundError
from ferry.local_workspace.launcher import server_status
from ferry.local_workspace.layout import WorkspaceLayout
from ferry.services.staging import INPUT_FOLDER
from ferry.specs.batch import BatchDeploymentSettings, CodeConfigurationSpec
from tests.batch_e2e.conftest import make_inputs, write_script
from tests.conftest import running_server

ENDPOINT = "stage-endpoint"
ECHO = """
from pathlib import Path

def run(mini_batch):
    return [f"{Path(p).name} {Path(p).read_text()}" for p in mini_batch]
"""


@pytest.fixture(scope="module")
def deployed(ml_client: MLClient, tmp_path_factory: pytest.TempPathFactory) -> MLClient:
    folder = tmp_path_factory.mktemp("stage-project")
    ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=ENDPOINT))
    weights = folder / "w.bin"
    weights.write_bytes(b"w")
    ml_client.batch_deployments.begin_create_or_update(
        BatchDeployment(
            name="echo",
            endpoint_name=ENDPOINT,
            model=Model(name="stage-model", path=str(weights)),
            code_configuration=CodeConfigurationSpec(
                code=str(write_script(folder / "code", ECHO)), scoring_script="driver.py"
            ),
            environment="ferry:server-python",
            settings=BatchDeploymentSettings(mini_batch_size=4),
        ),
        set_default=True,
    )
    return ml_client


@pytest.fixture(scope="module")
def rest(ml_client: MLClient) -> Iterator[httpx.Client]:
    token = WorkspaceLayout(ml_client.settings.resolved_workspace).read_token()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=ml_client.server_url, headers=headers, timeout=60) as client:
        yield client


def _staged(ml_client: MLClient) -> Path:
    return ml_client.settings.resolved_workspace / "blobstore" / INPUT_FOLDER


def _local(ml_client: MLClient, uri: str) -> Path:
    """The staged file or folder of an ``azureml://datastores/workspaceblobstore/paths/`` URI."""
    rel = uri.split("/paths/", 1)[1]
    return ml_client.settings.resolved_workspace / "blobstore" / rel


def _rows(ml_client: MLClient, job: Any, dest: Path) -> list[str]:
    done = ml_client.jobs.wait(job.name, timeout=120)
    assert done.status == "Completed", done.error
    out = ml_client.jobs.download(job.name, download_path=str(dest), output_name="score")
    return sorted((out / "predictions.csv").read_text().splitlines())


def _leftovers(ml_client: MLClient) -> list[str]:
    """What staging left under LocalInputs besides complete trees: temporary siblings."""
    root = _staged(ml_client)
    return sorted(p.name for p in root.iterdir() if ".tmp-" in p.name) if root.exists() else []


def test_local_folder_is_staged_by_links_and_reused(deployed: MLClient, tmp_path: Path) -> None:
    data = make_inputs(tmp_path / "inputs", 10)
    job = deployed.batch_endpoints.invoke(endpoint_name=ENDPOINT, input=Input(path=str(data)))
    uri = str(deployed.jobs.get(job.name).raw["input"]["path"])
    assert uri.startswith(f"azureml://datastores/workspaceblobstore/paths/{INPUT_FOLDER}/")
    staged = _local(deployed, uri)
    assert staged.name == "inputs"
    for source in sorted(data.iterdir()):
        copy = staged / source.name
        # The same inode: linked, not copied (this filesystem has no reflinks).
        assert copy.stat().st_ino == source.stat().st_ino
        assert source.stat().st_nlink >= 2
    assert _rows(deployed, job, tmp_path / "dl1") == sorted(
        f"item-{i:05d}.txt {i}" for i in range(10)
    )
    # No data version: the job names the staged folder itself.
    with pytest.raises(NotFoundError):
        deployed.data.get(f"{ENDPOINT}-input", label="latest")

    # The same content again (even in another folder of the same name) is found, not re-linked.
    again = make_inputs(tmp_path / "copy" / "inputs", 10)
    job2 = deployed.batch_endpoints.invoke(endpoint_name=ENDPOINT, input=Input(path=str(again)))
    assert deployed.jobs.get(job2.name).raw["input"]["path"] == uri
    assert (staged / "item-00000.txt").stat().st_ino == (data / "item-00000.txt").stat().st_ino
    assert _rows(deployed, job2, tmp_path / "dl2") == _rows(deployed, job, tmp_path / "dl1b")
    assert _leftovers(deployed) == []


def test_rest_stage_by_path_says_how(
    deployed: MLClient, rest: httpx.Client, tmp_path: Path
) -> None:
    data = make_inputs(tmp_path / "fresh", 3)
    first = rest.post("/api/v1/staged-inputs", json={"path": str(data), "uid": os.getuid()})
    assert first.status_code == 201, first.text
    assert first.json()["method"] in ("reflink", "link")
    assert first.json()["files"] == 3
    assert first.json()["content_hash"] == content_hash(data)
    second = rest.post("/api/v1/staged-inputs", json={"path": str(data), "uid": os.getuid()})
    assert second.status_code == 200 and second.json()["method"] == "existing"
    assert second.json()["path"] == first.json()["path"]
    other_user = rest.post("/api/v1/staged-inputs", json={"path": str(data), "uid": 4242})
    assert other_user.status_code == 403
    assert "the client runs as uid 4242" in other_user.json()["message"]
    assert other_user.json()["details"]["field"] == "uid"


def test_archive_upload_gives_the_same_job_output(
    deployed: MLClient, rest: httpx.Client, tmp_path: Path
) -> None:
    data = make_inputs(tmp_path / "inputs", 7)
    by_link = deployed.batch_endpoints.invoke(endpoint_name=ENDPOINT, input=Input(path=str(data)))
    link_uri = deployed.jobs.get(by_link.name).raw["input"]["path"]
    # As to a remote server: one archive, unless the server has the content already.
    remote = MLClient(settings=deployed.settings.model_copy(update={"input_staging": "archive"}))
    try:
        other = make_inputs(tmp_path / "other" / "inputs", 5)
        digest = content_hash(other).removeprefix("sha256:")
        assert rest.get(f"/api/v1/staged-inputs/{digest}/inputs").status_code == 404
        by_archive = remote.batch_endpoints.invoke(
            endpoint_name=ENDPOINT, input=Input(path=str(other))
        )
        found = rest.get(f"/api/v1/staged-inputs/{digest}/inputs")
        assert found.status_code == 200 and found.json()["method"] == "existing"
        archived = _local(deployed, remote.jobs.get(by_archive.name).raw["input"]["path"])
        # Unpacked, then linked from the scratch folder: a file of its own, not the source.
        assert (archived / "item-00000.txt").stat().st_ino != (
            other / "item-00000.txt"
        ).stat().st_ino
        assert _rows(remote, by_archive, tmp_path / "dl-a") == sorted(
            f"item-{i:05d}.txt {i}" for i in range(5)
        )
        # The content staged by links is found by its hash: same URI, same output, no upload.
        same = remote.batch_endpoints.invoke(endpoint_name=ENDPOINT, input=Input(path=str(data)))
        assert remote.jobs.get(same.name).raw["input"]["path"] == link_uri
        assert _rows(remote, same, tmp_path / "dl-b") == _rows(deployed, by_link, tmp_path / "dl-c")
    finally:
        remote.close()


def test_escaping_paths_are_refused(deployed: MLClient, rest: httpx.Client, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    data = make_inputs(tmp_path / "inputs", 2)
    (data / "evil.txt").symlink_to(secret)
    with pytest.raises(InvalidInputError, match="points outside the folder") as caught:
        deployed.batch_endpoints.invoke(endpoint_name=ENDPOINT, input=Input(path=str(data)))
    assert caught.value.details["field"] == "path"
    answer = rest.post("/api/v1/staged-inputs", json={"path": str(data)})
    assert answer.status_code == 400
    assert answer.json()["details"]["field"] == "path"
    assert (
        f"the symlink '{data / 'evil.txt'}' points outside the folder" in answer.json()["message"]
    )
    dotted = rest.post("/api/v1/staged-inputs", json={"path": f"{data}/../inputs"})
    assert dotted.status_code == 400
    assert "has a '..' component" in dotted.json()["message"]
    assert dotted.json()["details"]["field"] == "path"
    relative = rest.post("/api/v1/staged-inputs", json={"path": "inputs"})
    assert relative.status_code == 400 and "is relative" in relative.json()["message"]
    assert relative.json()["details"]["field"] == "path"
    root = rest.post("/api/v1/staged-inputs", json={"path": "/"})
    assert root.status_code == 400 and "is the filesystem root" in root.json()["message"]
    assert _leftovers(deployed) == []


def test_half_staged_folder_leaves_nothing(
    deployed: MLClient, rest: httpx.Client, tmp_path: Path
) -> None:
    before = sorted(_staged(deployed).iterdir()) if _staged(deployed).exists() else []
    # A cut-off archive fails after some members were unpacked.
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        for i in range(50):
            body = os.urandom(2000)  # incompressible: half the bytes hold about half the files
            info = tarfile.TarInfo(f"half/item-{i:03d}.txt")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    cut = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    answer = rest.post(
        "/api/v1/staged-inputs/archive",
        files={"archive": ("half.tar.gz", cut, "application/gzip")},
    )
    assert answer.status_code == 400, answer.text
    assert "not a valid tar.gz archive" in answer.json()["message"]
    # A plain tar cut at a member boundary would look whole: only tar.gz is taken.
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as tar:
        info = tarfile.TarInfo("plain/a.txt")
        tar.addfile(info, io.BytesIO(b""))
    answer = rest.post(
        "/api/v1/staged-inputs/archive",
        files={"archive": ("plain.tar", plain.getvalue(), "application/x-tar")},
    )
    assert answer.status_code == 400
    assert "the archive is not gzip-compressed; send a tar.gz" in answer.json()["message"]
    assert answer.json()["details"]["field"] == "archive"
    # A folder with a fifo in it is refused before anything is linked.
    data = make_inputs(tmp_path / "with-fifo", 3)
    os.mkfifo(data / "zz-pipe")
    refused = rest.post("/api/v1/staged-inputs", json={"path": str(data), "uid": os.getuid()})
    assert refused.status_code == 400
    assert "is not a regular file or folder" in refused.json()["message"]
    after = sorted(_staged(deployed).iterdir()) if _staged(deployed).exists() else []
    assert after == before
    assert not list((deployed.settings.resolved_workspace / "tmp").glob("stage-*"))


def test_a_server_off_loopback_takes_only_archives(tmp_path: Path) -> None:
    """A client elsewhere cannot name the server's own files; it uploads, and the SDK of a
    remote client (FERRY_SERVER_URL) does so by itself."""
    data = make_inputs(tmp_path / "inputs", 3)
    for settings in running_server(tmp_path / "ws", host="0.0.0.0"):
        info = server_status(settings)
        assert info is not None
        token = WorkspaceLayout(settings.resolved_workspace).read_token()
        with httpx.Client(
            base_url=str(info["url"]), headers={"Authorization": f"Bearer {token}"}
        ) as api:
            refused = api.post("/api/v1/staged-inputs", json={"path": str(data)})
            assert refused.status_code == 403
            assert (
                "staging by path is for a client on the server's machine"
                in (refused.json()["message"])
            )
        remote = MLClient(server_url=str(info["url"]), token=token)
        try:
            # The SDK chose the archive by itself: the server would refuse a path.
            uri = remote.batch_endpoints._stager.stage(data)
        finally:
            remote.close()
        staged = settings.resolved_workspace / "blobstore" / uri.split("/paths/", 1)[1]
        assert sorted(p.name for p in staged.iterdir()) == sorted(p.name for p in data.iterdir())


def test_a_killed_servers_half_staged_input_is_removed_at_start(tmp_path: Path) -> None:
    """What a server killed mid-staging leaves (a temporary sibling) goes when the next starts;
    staged inputs stay (a job may need its input to resume)."""
    data = make_inputs(tmp_path / "inputs", 2)
    workspace = tmp_path / "ws"
    for settings in running_server(workspace):
        client = MLClient(settings=settings)
        try:
            kept = _local(client, client.batch_endpoints._stager.stage(data))
        finally:
            client.close()
    half = workspace / "blobstore" / INPUT_FOLDER / f"{'a' * 32}.tmp-{'0' * 32}"
    (half / "inputs").mkdir(parents=True)
    (half / "inputs" / "item-00000.txt").write_text("half")
    for _ in running_server(workspace):
        assert not half.exists()
        assert sorted(p.name for p in kept.iterdir()) == ["item-00000.txt", "item-00001.txt"]
