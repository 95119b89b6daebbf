"""The batch scoring URI over plain HTTP, as Data Factory or a shell script calls it (seed 004).

Azure's own invoke body (single and map ``InputData``, ``OutputDataset``, ``OutputData``), a
published pipeline's (``ExperimentName``, ``ParameterAssignments`` with dotted keys,
``DataPathAssignments``), 422s that name the field, and a job's files read back byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferry import BatchDeployment, BatchEndpoint, Data, Input, MLClient, Model
from ferry.local_workspace.layout import WorkspaceLayout
from ferry.specs.batch import BatchDeploymentSettings, CodeConfigurationSpec
from tests.batch_e2e.conftest import write_script
from tests.png_bytes import png_bytes

# Copies each PNG it scores into the job's outputs; one row per file with INPUT_PARTITION.
SCRIPT = """
import os
import shutil
from pathlib import Path

def init():
    global out
    out = Path(os.environ["AZUREML_BI_OUTPUT_PATH"])

def run(mini_batch):
    rows = []
    for item in map(Path, mini_batch):
        if item.suffix == ".png":
            shutil.copyfile(item, out / item.name)
        rows.append(f"{item.name} {os.environ.get('INPUT_PARTITION', '-')}")
    return rows
"""

ENDPOINT = "adf-endpoint"
ARM = "azureml://subscriptions/s1/resourceGroups/rg/workspaces/ws"
PNG = png_bytes(12, 6)


@pytest.fixture(scope="module")
def blob(ml_client: MLClient) -> Path:
    """The workspace blob store's folder, with 5 inputs under inputs/adf/ (one of them a PNG)."""
    root = ml_client.settings.resolved_workspace / "blobstore"
    folder = root / "inputs" / "adf"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(4):
        (folder / f"row-{i}.txt").write_text(str(i))
    (folder / "picture.png").write_bytes(PNG)
    return root


@pytest.fixture(scope="module")
def endpoint(ml_client: MLClient, tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("adf")
    ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=ENDPOINT))
    model_file = tmp / "weights.bin"
    model_file.write_bytes(b"w")
    deployment = BatchDeployment(
        name="adf",
        endpoint_name=ENDPOINT,
        model=Model(name="adf-model", path=str(model_file)),
        code_configuration=CodeConfigurationSpec(
            code=str(write_script(tmp / "code", SCRIPT)), scoring_script="driver.py"
        ),
        environment="ferry:server-python",
        settings=BatchDeploymentSettings(mini_batch_size=10),
    )
    ml_client.batch_deployments.begin_create_or_update(deployment, set_default=True)
    return ENDPOINT


@pytest.fixture(scope="module")
def http(ml_client: MLClient) -> Iterator[httpx.Client]:
    token = WorkspaceLayout(ml_client.settings.resolved_workspace).read_token()
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def scoring_uri(ml_client: MLClient, endpoint: str, http: httpx.Client) -> str:
    """The endpoint's scoring_uri as GET shows it: absolute, so it can be POSTed to as it is."""
    uri = http.get(f"{ml_client.server_url}/api/v1/batch-endpoints/{endpoint}").json()
    assert str(uri["scoring_uri"]).startswith(("http://", "https://")), uri["scoring_uri"]
    assert uri["scoring_uri"] == f"{ml_client.server_url}/api/v1/batch-endpoints/{endpoint}/jobs"
    listed = http.get(f"{ml_client.server_url}/api/v1/batch-endpoints").json()["value"]
    assert [e["scoring_uri"] for e in listed if e["name"] == endpoint] == [uri["scoring_uri"]]
    return str(uri["scoring_uri"])


def _run(ml_client: MLClient, http: httpx.Client, uri: str, body: Any, **headers: str) -> Any:
    """POST the body, wait for the job and return it as the REST API shows it."""
    response = http.post(uri, json=body, headers=headers)
    assert response.status_code == 201, response.text
    name = response.json()["name"]
    done = ml_client.jobs.wait(name, timeout=120)
    assert done.status == "Completed", done.error
    return http.get(f"{ml_client.server_url}/api/v1/jobs/{name}").json()


def _rows(path: Path) -> list[str]:
    return sorted(path.read_text().splitlines())


def test_azure_body_with_one_named_input_and_output_dataset(
    ml_client: MLClient, http: httpx.Client, scoring_uri: str, blob: Path
) -> None:
    body = {
        "properties": {
            "InputData": {
                "heart_dataset": {
                    "JobInputType": "UriFolder",
                    "Uri": f"{ARM}/datastores/workspaceblobstore/paths/inputs/adf",
                }
            },
            "OutputDataset": {
                "DatastoreId": f"{ARM[len('azureml:/') :]}/datastores/workspaceblobstore",
                "Path": "adf-out/one",
            },
            "MiniBatchSize": 2,
            "RetrySettings": {"MaxRetries": 1, "Timeout": "PT45S"},
            "OutputFileName": "scores.csv",
        }
    }
    job = _run(ml_client, http, scoring_uri, body, **{"azureml-model-deployment": "adf"})
    assert job["deployment_name"] == "adf"
    assert job["progress"]["mini_batches_total"] == 3  # 5 files, 2 per mini-batch
    assert job["overrides"]["timeout"] == 45 and job["overrides"]["max_retries"] == 1
    assert _rows(blob / "adf-out/one/scores.csv") == [
        "picture.png -",
        *[f"row-{i}.txt -" for i in range(4)],
    ]


def test_sdk_shaped_body_camel_case_and_a_data_asset_id(
    ml_client: MLClient, http: httpx.Client, scoring_uri: str, blob: Path
) -> None:
    data = ml_client.data.create_or_update(
        Data(name="adf-rows", version="1", path=str(blob / "inputs/adf"), type="uri_folder")
    )
    assert data.name == "adf-rows"
    # What azure-ai-ml serialises: camelCase keys, InputData keyed by the input type.
    body = {
        "properties": {
            "inputData": {
                "UriFolder": {"jobInputType": "UriFolder", "uri": f"{ARM}/data/adf-rows/versions/1"}
            },
            "outputData": {
                "score": {
                    "jobOutputType": "UriFile",
                    "uri": "azureml://datastores/workspaceblobstore/paths/adf-out/two/out.csv",
                }
            },
        }
    }
    _run(ml_client, http, scoring_uri, body)
    assert len(_rows(blob / "adf-out/two/out.csv")) == 5


def test_published_pipeline_body_with_dotted_parameter_assignments(
    ml_client: MLClient, http: httpx.Client, scoring_uri: str, tmp_path: Path
) -> None:
    body = {
        "ExperimentName": "BatchScoringPipelineExp-datasetinput",
        "ParameterAssignments": {
            "environment_variables.INPUT_PARTITION": "2020/08/07",
            "mini_batch_size": "4",
        },
        "DataPathAssignments": {
            "images": {"DataStoreName": "workspaceblobstore", "RelativePath": "inputs/adf"}
        },
        "Tags": {"source": "adf"},
    }
    job = _run(ml_client, http, scoring_uri, body)
    assert job["experiment_name"] == "BatchScoringPipelineExp-datasetinput"
    assert job["tags"] == {"source": "adf"}
    assert job["progress"]["mini_batches_total"] == 2
    out = ml_client.jobs.download(job["name"], download_path=str(tmp_path))
    rows = _rows(out / "predictions.csv")
    assert rows[0] == "picture.png 2020/08/07" and len(rows) == 5


def test_sdk_params_override_takes_azures_dotted_keys(
    ml_client: MLClient, endpoint: str, blob: Path
) -> None:
    job = ml_client.batch_endpoints.invoke(
        endpoint_name=endpoint,
        input=Input(path="azureml://datastores/workspaceblobstore/paths/inputs/adf"),
        params_override=[
            {"environment_variables.INPUT_PARTITION": "p7"},
            {"compute.instance_count": 1},
            {"output_dataset.datastore_id": "azureml:workspaceblobstore"},
            {"output_dataset.path": "adf-out/sdk"},
            {"mini_batch_size": 5},
        ],
    )
    done = ml_client.jobs.wait(job.name, timeout=120)
    assert done.status == "Completed", done.error
    rows = _rows(blob / "adf-out/sdk/predictions.csv")
    assert len(rows) == 5 and all(row.endswith(" p7") for row in rows)


def test_job_files_round_trip_byte_for_byte(
    ml_client: MLClient, http: httpx.Client, scoring_uri: str
) -> None:
    body = {"input": {"path": "azureml://datastores/workspaceblobstore/paths/inputs/adf"}}
    name = _run(ml_client, http, scoring_uri, body)["name"]
    files = {f["path"]: f["size"] for f in ml_client.jobs.files(name)}
    path = "named-outputs/score/picture.png"
    assert files[path] == len(PNG)
    response = http.get(f"{ml_client.server_url}/api/v1/jobs/{name}/files/{path}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content == PNG
    assert ml_client.jobs.read_file(name, path) == PNG

    # Text logs keep their type and the offset tailing the CLI uses.
    log = "logs/job_result.txt"
    whole = http.get(f"{ml_client.server_url}/api/v1/jobs/{name}/files/{log}")
    assert whole.headers["content-type"] == "text/plain; charset=utf-8"
    text, after = ml_client.jobs.tail_file(name, log, 5)
    assert text.encode() == whole.content[5:] and after == len(whole.content)
    assert ml_client.jobs.tail_file(name, log, after) == ("", after)


@pytest.mark.parametrize(
    ("body", "message", "field"),
    [
        (
            {"properties": {"InputData": {"a": {"JobInputType": "UriFolder"}}}},
            "missing required field 'properties.InputData.a.Uri'",
            "properties.InputData.a.Uri",
        ),
        (
            {"properties": {"InputData": {"a": {"JobInputType": "Literal", "Uri": "x"}}}},
            "field 'properties.InputData.a.JobInputType'",
            "properties.InputData.a.JobInputType",
        ),
        (
            {"properties": {"InputDta": {}}},
            "unknown field 'properties.InputDta'",
            "properties.InputDta",
        ),
        (
            {
                "properties": {
                    "InputData": {
                        "a": {"JobInputType": "UriFolder", "Uri": "azureml:x:1"},
                        "b": {"JobInputType": "UriFolder", "Uri": "azureml:y:1"},
                    }
                }
            },
            "properties.InputData must name exactly one input (a model deployment scores one); "
            "it names 2: a, b",
            "properties.InputData",
        ),
        ({"ExperimentName": "e"}, "the invoke names no input", "input"),
        (
            {"input": {"path": "azureml:x:1"}, "ParameterAssignments": {"mini_batch_size": "many"}},
            "override mini_batch_size='many' must be a whole number",
            "ParameterAssignments.mini_batch_size",
        ),
        (
            {
                "input": {"path": "azureml:x:1"},
                "properties": {"RetrySettings": {"Timeout": "soon"}},
            },
            "properties.RetrySettings.Timeout='soon' is not a duration",
            "properties.RetrySettings.Timeout",
        ),
    ],
)
def test_malformed_bodies_are_422_naming_the_field(
    ml_client: MLClient, http: httpx.Client, scoring_uri: str, body: Any, message: str, field: str
) -> None:
    before = len(ml_client.batch_endpoints.list_jobs(ENDPOINT))
    response = http.post(scoring_uri, json=body)
    assert response.status_code == 422, response.text
    assert message in response.json()["message"]
    assert field in response.json()["details"]["fields"]
    assert len(ml_client.batch_endpoints.list_jobs(ENDPOINT)) == before  # no job was created
