"""Batch workers and online replicas go through the same worker layer: the same words for how a
process ended, and secrets that reach both through their spec and never land in a file.

A real server (the suite's ``ml_client``), real replicas and real batch workers.
"""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import httpx
import pytest

from ferry import BatchDeployment, BatchEndpoint, Input, MLClient
from ferry.backends.local import LocalCompute
from ferry.batch.engine import run_job
from ferry.specs.loader import load_spec
from ferry.workers.compute import describe_exit
from tests.batch.conftest import Jobs, events
from tests.batch_e2e.conftest import make_inputs, write_script
from tests.online.conftest import deploy, make_endpoint, scoring, wait_for, write_code

SECRET = "w0rker-layer-s3cret-7f3a"
DIGEST = hashlib.sha256(SECRET.encode()).hexdigest()
KILLED = describe_exit(-signal.SIGKILL)

# Answers with a digest of the secret and the names of the FERRY_ variables it sees: the value
# itself never leaves the process (a row or a response would put it in a file or a log).
ONLINE_SCRIPT = """
import hashlib
import json
import os

def init():
    pass

def run(raw):
    token = os.environ.get("TOKEN", "")
    return {
        "digest": hashlib.sha256(token.encode()).hexdigest(),
        "ferry_vars": sorted(k for k in os.environ if k.startswith("FERRY_")),
    }
"""

BATCH_SCRIPT = """
import hashlib
import os

def init():
    pass

def run(mini_batch):
    digest = hashlib.sha256(os.environ.get("TOKEN", "").encode()).hexdigest()
    return [os.path.basename(p) + " " + digest for p in mini_batch]
"""

BATCH_YML = """\
name: main
endpoint_name: layer-batch
type: model
code_configuration:
  code: code
  scoring_script: driver.py
environment: ferry:server-python
settings:
  mini_batch_size: 2
  environment_variables:
    TOKEN: ${{secrets.layersecret}}
"""

KILL_ITSELF = """
import os
import signal

def init():
    pass

def run(mini_batch):
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture(scope="module")
def workspace(ml_client: MLClient) -> Path:
    ml_client.secrets.set("layersecret", SECRET)
    return ml_client.settings.workspace


def _files_holding(root: Path, needle: bytes) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if needle in path.read_bytes():
                    found.append(str(path.relative_to(root)))
            except OSError:
                continue
    return found


def test_a_secret_reaches_an_online_replica_and_is_in_no_file(
    ml_client: MLClient, workspace: Path, tmp_path: Path
) -> None:
    code = write_code(tmp_path / "online", ONLINE_SCRIPT)
    make_endpoint(ml_client, "layer-online")
    deploy(
        ml_client,
        "layer-online",
        "main",
        code,
        environment_variables={"TOKEN": "${{secrets.layersecret}}"},
    )
    uri, headers = scoring(ml_client, "layer-online")
    answer = httpx.post(uri, content=b"{}", headers=headers, timeout=30).json()
    assert answer["digest"] == DIGEST
    # The deployment's own variables only: none of the server's settings.
    assert "FERRY_TOKEN" not in answer["ferry_vars"]
    assert "FERRY_ENDPOINT" in answer["ferry_vars"]
    assert _files_holding(workspace, SECRET.encode()) == []


def test_a_secret_reaches_a_batch_worker_and_is_in_no_file(
    ml_client: MLClient, workspace: Path, tmp_path: Path
) -> None:
    write_script(tmp_path / "code", BATCH_SCRIPT)
    (tmp_path / "deployment.yml").write_text(BATCH_YML, encoding="utf-8")
    ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name="layer-batch"))
    deployment = load_spec(BatchDeployment, tmp_path / "deployment.yml")
    ml_client.batch_deployments.begin_create_or_update(deployment, set_default=True)
    data = make_inputs(tmp_path / "data", 3)
    job = ml_client.batch_endpoints.invoke(
        endpoint_name="layer-batch", inputs={"data": Input(type="uri_folder", path=str(data))}
    )
    done = ml_client.jobs.wait(job.name, timeout=120)
    assert done.status == "Completed", done.error
    out = ml_client.jobs.download(job.name, download_path=str(tmp_path / "out"))
    rows = (out / "predictions.csv").read_text().splitlines()
    assert rows == [f"item-{i:05d}.txt {DIGEST}" for i in range(3)]
    assert _files_holding(workspace, SECRET.encode()) == []


def test_a_replica_and_a_batch_worker_killed_by_sigkill_say_so_in_the_same_words(
    ml_client: MLClient, tmp_path: Path
) -> None:
    # Online: the replica's process is killed from outside; its log says how it ended.
    code = write_code(tmp_path / "online", ONLINE_SCRIPT)
    make_endpoint(ml_client, "layer-kill")
    deploy(ml_client, "layer-kill", "main", code)
    replica = ml_client.online_deployments.get("main", "layer-kill").replicas[0]
    os.kill(replica["pid"], signal.SIGKILL)
    wait_for(
        lambda: (
            f"replica main-0 {KILLED}"
            in ml_client.online_deployments.get_logs("main", "layer-kill", lines=200)
        ),
        30,
        "the replica's log to say how it ended",
    )

    # Batch: a worker killed by the same signal is recorded in the same words.
    jobs = Jobs(tmp_path / "batch")
    (tmp_path / "batch").mkdir()
    job = jobs.job(jobs.files(1), jobs.script(KILL_ITSELF), max_retries=0)
    run_job(job, compute=LocalCompute())
    failed = [e["error"]["message"] for e in events(job, "fail")]
    assert any(f"worker process000 {KILLED} while running mini-batch" in m for m in failed)
    assert KILLED == "was killed by SIGKILL"
