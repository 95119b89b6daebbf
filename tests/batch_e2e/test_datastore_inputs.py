"""A job whose input is on an S3 datastore (a real moto server) is read where it is: the server
lists it, each worker's data agent fetches its own mini-batches, nothing is downloaded up front,
and the worker's environment never holds the datastore's credentials."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ferry import BatchDeployment, BatchEndpoint, Datastore, Input, MLClient, Model
from ferry.errors import NotFoundError
from ferry.specs.batch import BatchDeploymentSettings, CodeConfigurationSpec
from ferry.specs.workspace import DatastoreSpec
from tests.batch_e2e.conftest import write_script
from tests.fixtures_services import S3_CREDENTIALS, S3_REGION, s3_client

ENDPOINT = "s3-inputs"
SCRIPT = """
import os
from pathlib import Path

OUT = Path(os.environ["AZUREML_BI_OUTPUT_PATH"])

def run(mini_batch):
    if os.environ.get("DELETE_FROM") and Path(mini_batch[0]).name == "a.txt":
        import boto3  # moto accepts any key; the datastore's own never reach this process
        endpoint, bucket = os.environ["DELETE_FROM"].rsplit("/", 1)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="any", aws_secret_access_key="any")
        s3.delete_object(Bucket=bucket, Key="gone/c.txt")
    secret = "testing-secret" in "".join(os.environ.values())
    for p in mini_batch:
        (OUT / (Path(p).stem + ".out")).write_text(Path(p).read_text().upper())
    return [f"{Path(p).name} {Path(p).read_text()} {secret}" for p in mini_batch]
"""


@pytest.fixture(scope="module")
def bucket(
    ml_client: MLClient, moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> DatastoreSpec:
    spec = DatastoreSpec(
        name="s3in",
        type="s3",
        bucket=f"inputs-{uuid.uuid4().hex[:8]}",
        endpoint_url=moto_endpoint,
        region=S3_REGION,
    )
    s3 = s3_client(moto_endpoint)
    s3.create_bucket(Bucket=spec.bucket)
    for i in range(23):
        s3.put_object(Bucket=spec.bucket, Key=f"digits/{i // 10}/item-{i:03d}.txt", Body=f"v{i}")
    fields = spec.model_dump(exclude={"schema_uri", "credentials"})
    ml_client.datastores.create_or_update(Datastore(**fields, credentials=dict(S3_CREDENTIALS)))
    folder = tmp_path_factory.mktemp("s3-code")
    weights = folder / "w.bin"
    weights.write_bytes(b"w")
    ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=ENDPOINT))
    ml_client.batch_deployments.begin_create_or_update(
        BatchDeployment(
            name="upper",
            endpoint_name=ENDPOINT,
            model=Model(name="s3-model", path=str(weights)),
            code_configuration=CodeConfigurationSpec(
                code=str(write_script(folder / "code", SCRIPT)), scoring_script="driver.py"
            ),
            environment="ferry:server-python",
            resources={"instance_count": 2},
            settings=BatchDeploymentSettings(mini_batch_size=4),
        ),
        set_default=True,
    )
    return spec


def _job_dir(ml_client: MLClient, job: str) -> Path:
    return ml_client.settings.resolved_workspace / "blobstore" / "azureml" / job


def test_workers_read_an_s3_folder_where_it_is(
    ml_client: MLClient, bucket: DatastoreSpec, tmp_path: Path
) -> None:
    job = ml_client.batch_endpoints.invoke(
        endpoint_name=ENDPOINT, input=Input(path="azureml://datastores/s3in/paths/digits")
    )
    done = ml_client.jobs.wait(job.name, timeout=180)
    assert done.status == "Completed", done.error
    out = ml_client.jobs.download(job.name, download_path=str(tmp_path), output_name="score")
    rows = sorted((out / "predictions.csv").read_text().splitlines())
    assert rows == sorted(f"item-{i:03d}.txt v{i} False" for i in range(23))
    folder = _job_dir(ml_client, job.name)
    assert not (folder / "inputs").exists()  # nothing downloaded in Preparing
    listing = (folder / "input-listing.txt").read_text().splitlines()
    assert listing[0] == "azureml://datastores/s3in/paths/digits/0/item-000.txt"
    assert len(listing) == 23
    # On this machine the output files stay in the job folder, as for any local job.
    assert sorted(p.name for p in out.glob("*.out")) == [f"item-{i:03d}.out" for i in range(23)]
    assert (out / "item-007.out").read_text() == "V7"


def test_a_file_gone_after_listing_fails_its_mini_batch_by_name(
    ml_client: MLClient, bucket: DatastoreSpec, moto_endpoint: str
) -> None:
    s3 = s3_client(moto_endpoint)
    for name in ("a", "b", "c"):
        s3.put_object(Bucket=bucket.bucket, Key=f"gone/{name}.txt", Body=name.encode())
    # The first mini-batch's run() deletes the third's file (the second's may be fetched while
    # the first runs): its fetch is what finds it gone.
    job = ml_client.batch_endpoints.invoke(
        endpoint_name=ENDPOINT,
        input=Input(path="azureml://datastores/s3in/paths/gone"),
        params_override=[
            {"mini_batch_size": 1, "instance_count": 1, "max_retries": 0},
            {"environment_variables": {"DELETE_FROM": f"{bucket.endpoint_url}/{bucket.bucket}"}},
        ],
    )
    done = ml_client.jobs.wait(job.name, timeout=180)
    logs = _job_dir(ml_client, job.name) / "logs"
    errors = (logs / "user" / "error.txt").read_text()
    assert "datastore 's3in' has no 'gone/c.txt'" in errors, errors
    assert (done.progress or {}).get("items_failed") == 1, done.progress
    assert (done.progress or {}).get("items_succeeded") == 2, done.progress


def test_a_missing_s3_input_is_refused_at_invoke(
    ml_client: MLClient, bucket: DatastoreSpec
) -> None:
    with pytest.raises(NotFoundError, match=r"datastore 's3in' has no 'nothing-here'"):
        ml_client.batch_endpoints.invoke(
            endpoint_name=ENDPOINT,
            input=Input(path="azureml://datastores/s3in/paths/nothing-here"),
        )


def test_an_s3_url_reads_through_the_datastore_over_its_bucket(
    ml_client: MLClient, bucket: DatastoreSpec, tmp_path: Path
) -> None:
    job = ml_client.batch_endpoints.invoke(
        endpoint_name=ENDPOINT, input=Input(path=f"s3://{bucket.bucket}/digits/1")
    )
    done = ml_client.jobs.wait(job.name, timeout=180)
    assert done.status == "Completed", done.error
    out = ml_client.jobs.download(job.name, download_path=str(tmp_path), output_name="score")
    rows = sorted((out / "predictions.csv").read_text().splitlines())
    assert rows == sorted(f"item-{i:03d}.txt v{i} False" for i in range(10, 20))
    listing = (_job_dir(ml_client, job.name) / "input-listing.txt").read_text().splitlines()
    assert listing[0] == "azureml://datastores/s3in/paths/digits/1/item-010.txt"


def test_an_s3_url_no_datastore_covers_says_how_to_register_one(
    ml_client: MLClient, bucket: DatastoreSpec
) -> None:
    with pytest.raises(NotFoundError) as caught:
        ml_client.batch_endpoints.invoke(
            endpoint_name=ENDPOINT, input=Input(path="s3://someone-elses-bucket/data")
        )
    assert "s3 bucket 'someone-elses-bucket', which no registered datastore covers" in str(
        caught.value
    )
    assert "ferry datastore create --name <name> --type s3 --bucket someone-elses-bucket" in str(
        caught.value
    )
