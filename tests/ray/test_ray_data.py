"""Data every node can reach: a job on the Ray cluster over an S3 datastore (a real moto server).

Each worker's data agent, in its actor on its node, fetches the mini-batch's files from S3 and
commits what the script wrote to the job's output location on S3, pending-then-rename, before
the mini-batch is reported. Nothing goes through the server's disk but the rows, and a killed
actor's mini-batches are retried without a torn or doubled file.
"""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pandas as pd
import pytest

from ferry import BatchDeployment, BatchEndpoint, Datastore, Input, Model
from ferry.specs.batch import BatchDeploymentSettings, CodeConfigurationSpec, ResourceSettings
from tests.batch_e2e.conftest import write_script
from tests.fixtures_services import S3_CREDENTIALS, S3_REGION, s3_client, s3_keys
from tests.ray.conftest import Ferried, placements, wait_for

pytestmark = pytest.mark.ray

COUNT = 300
SCRIPT = """
import os
import time
from pathlib import Path

OUT = Path(os.environ["AZUREML_BI_OUTPUT_PATH"])
# The model folder, as the node has it: a copy by content hash in the node's cache.
MODEL = Path(os.environ["AZUREML_MODEL_DIR"])
WEIGHTS = (MODEL / "w.bin").read_text()

def run(mini_batch):
    time.sleep(0.02 * len(mini_batch))
    rows = []
    for p in mini_batch:
        path = Path(p)
        (OUT / "upper").mkdir(exist_ok=True)
        (OUT / "upper" / (path.stem + ".out")).write_text(path.read_text().upper())
        # Where the item was read: the node's scratch, not the server's job folder.
        rows.append(f"{path.name} {path.read_text()} {path.parent.parent.name} "
                    f"{MODEL.parent.name}:{WEIGHTS}")
    return rows
"""


@pytest.fixture(scope="module")
def s3_data(ferried: Ferried, moto_endpoint: str) -> str:
    """A bucket of COUNT items, registered as datastore ``s3data``; returns the bucket."""
    bucket = f"ray-{uuid.uuid4().hex[:8]}"
    s3 = s3_client(moto_endpoint)
    s3.create_bucket(Bucket=bucket)
    for i in range(COUNT):
        s3.put_object(Bucket=bucket, Key=f"items/item-{i:05d}.txt", Body=f"v{i}".encode())
    ferried.client.datastores.create_or_update(
        Datastore(
            name="s3data",
            type="s3",
            bucket=bucket,
            endpoint_url=moto_endpoint,
            region=S3_REGION,
            credentials=dict(S3_CREDENTIALS),
        )
    )
    return bucket


def test_nodes_read_and_commit_on_s3_exactly_once_through_an_actor_kill(
    ferried: Ferried, cluster_compute: str, s3_data: str, moto_endpoint: str, tmp_path: Path
) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"weights")
    ferried.client.batch_endpoints.begin_create_or_update(BatchEndpoint(name="ray-s3"))
    ferried.client.batch_deployments.begin_create_or_update(
        BatchDeployment(
            name="d",
            endpoint_name="ray-s3",
            model=Model(name="ray-s3-model", path=str(weights)),
            code_configuration=CodeConfigurationSpec(
                code=str(write_script(tmp_path / "code", SCRIPT)), scoring_script="driver.py"
            ),
            environment="ferry:server-python",
            compute=f"azureml:{cluster_compute}",
            resources=ResourceSettings(instance_count=2, cpus_per_worker=1),
            settings=BatchDeploymentSettings(mini_batch_size=10),
        )
    )
    job = ferried.client.batch_endpoints.invoke(
        endpoint_name="ray-s3", input=Input(path="azureml://datastores/s3data/paths/items")
    )
    job_dir = ferried.workspace / "blobstore" / "azureml" / job.name
    found = wait_for(lambda: len(placements(job_dir)) >= 2 and placements(job_dir), 120, "workers")
    wait_for(
        lambda: (
            int((ferried.client.jobs.get(job.name).progress or {}).get("items_succeeded", 0)) >= 40
        ),
        120,
        "progress",
    )
    _, pid = sorted(found.values())[0]
    actor = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    os.kill(actor, signal.SIGKILL)  # its agent dies with it, mid-fetch or mid-commit perhaps

    done = ferried.client.jobs.wait(job.name, timeout=240)
    assert done.status == "Completed", done.error
    prefix = f"azureml/{job.name}/score"
    assert done.raw["outputs"]["score"] == f"azureml://datastores/s3data/paths/{prefix}"

    # Every item's output file is on S3, whole, once; no temporary name or marker is left.
    keys = s3_keys(moto_endpoint, s3_data, prefix + "/")
    outs = [k for k in keys if k.endswith(".out")]
    assert outs == [f"{prefix}/upper/item-{i:05d}.out" for i in range(COUNT)]
    assert not [k for k in keys if ".tmp-" in k or k.endswith(".ferry-pending")], keys
    body = s3_client(moto_endpoint).get_object(Bucket=s3_data, Key=f"{prefix}/upper/item-00042.out")
    assert body["Body"].read() == b"V42"
    # predictions.csv is assembled by the server from the journal and committed there too.
    assert f"{prefix}/predictions.csv" in keys
    csv = s3_client(moto_endpoint).get_object(Bucket=s3_data, Key=f"{prefix}/predictions.csv")
    local = tmp_path / "predictions.csv"
    local.write_bytes(csv["Body"].read())
    names = ["file", "v", "read_from", "model"]
    frame = pd.read_csv(local, header=None, names=names, sep=" ")
    assert sorted(frame["file"]) == [f"item-{i:05d}.txt" for i in range(COUNT)]
    assert set(frame["read_from"]) == {"s3data"}  # <scratch>/in/<datastore>/items/<file>
    assert set(frame["model"]) == {"model:weights"}  # <FERRY_RAY_CACHE>/model/<hash>/w.bin
    # The server's disk got no input download and no output file.
    assert not (job_dir / "inputs").exists()
    assert not list((job_dir / "named-outputs").rglob("*.out"))
    assert len(placements(job_dir)) > 2, "the killed actor's worker was replaced"
