"""Azure's batch notebook cells, with only ``azure.ai.ml`` renamed to ``ferry``, on a real server.

The cells follow sdk/python/endpoints/batch/deploy-models/heart-classifier-mlflow/
mlflow-for-batch-tabular.ipynb in Azure/azureml-examples: register a model and get it back, build a
ModelBatchDeployment from it with a CodeConfiguration, make it the endpoint's default through
get -> change -> begin_create_or_update, invoke with params_override and read the job back.
The model is a small JSON file and the deployments run in the server's interpreter, so no
environment is built.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from ferry import Input, MLClient, Output, load_batch_deployment, load_compute, load_model
from ferry.constants import AssetTypes, BatchDeploymentOutputAction, InputOutputModes
from ferry.entities import (
    AmlCompute,
    BatchEndpoint,
    BatchRetrySettings,
    CodeConfiguration,
    Data,
    Environment,
    Model,
    ModelBatchDeployment,
    ModelBatchDeploymentSettings,
)
from ferry.errors import FerryError, InvalidInputError, SpecError

DRIVER = """
import json
import os
from pathlib import Path


def init():
    global scale
    weights = Path(os.environ["AZUREML_MODEL_DIR"]) / "model" / "weights.json"
    scale = json.loads(weights.read_text())["scale"] * int(os.environ.get("EXTRA", "1"))


def run(mini_batch):
    print(f"run method start: run({len(mini_batch)} files)")
    return [f"{Path(p).name} {int(Path(p).read_text()) * scale}" for p in mini_batch]
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The notebook's folder: model/, code/batch_driver.py and data/."""
    root = tmp_path_factory.mktemp("files")
    (root / "model").mkdir()
    (root / "model" / "weights.json").write_text(json.dumps({"scale": 10}))
    (root / "code").mkdir()
    (root / "code" / "batch_driver.py").write_text(DRIVER)
    (root / "data").mkdir()
    for i in range(5):
        (root / "data" / f"item-{i}.txt").write_text(str(i))
    return root


def _deployment(
    name: str, endpoint: str, model: Model, files: Path, compute: str = "local"
) -> ModelBatchDeployment:
    return ModelBatchDeployment(
        name=name,
        description="A classifier with a custom scoring script",
        endpoint_name=endpoint,
        model=model,
        environment="ferry:server-python",
        code_configuration=CodeConfiguration(
            code=str(files / "code"), scoring_script="batch_driver.py"
        ),
        compute=compute,
        settings=ModelBatchDeploymentSettings(
            instance_count=2 if compute != "local" else 1,
            max_concurrency_per_instance=2,
            mini_batch_size=10,
            output_action=BatchDeploymentOutputAction.APPEND_ROW,
            output_file_name="predictions.csv",
            retry_settings=BatchRetrySettings(max_retries=3, timeout=300),
            logging_level="info",
        ),
    )


def test_notebook_batch_flow(
    ml_client: MLClient, files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_name = "heart-classifier-mlflow"
    model = ml_client.models.create_or_update(
        Model(name=model_name, path=str(files / "model"), type=AssetTypes.CUSTOM_MODEL)
    )
    model = ml_client.models.get(name=model_name, label="latest")
    assert (model.version, model.id) == ("1", f"azureml:{model_name}:1")
    assert model.creation_context is not None and model.creation_context.created_at is not None

    endpoint = BatchEndpoint(
        name="heart-classifier", description="A heart condition classifier for batch inference"
    )
    created = ml_client.batch_endpoints.begin_create_or_update(endpoint).result()
    assert created.defaults.deployment_name is None
    assert created.scoring_uri and created.scoring_uri.startswith("http")

    compute_name = "batch-cluster"
    if not any(filter(lambda m: m.name == compute_name, ml_client.compute.list())):
        compute_cluster = AmlCompute(
            name=compute_name, description="amlcompute", min_instances=0, max_instances=5
        )
        ml_client.begin_create_or_update(compute_cluster).result()
    assert ml_client.compute.get(compute_name).max_instances == 5
    assert ml_client.compute.get(name=compute_name).provisioning_state == "Succeeded"

    # The registered model goes into two deployments: referred to, never uploaded again.
    for name in ("classifier-a", "classifier-b"):
        deployment = _deployment(name, endpoint.name, model, files, compute_name)
        stored = ml_client.batch_deployments.begin_create_or_update(deployment).result()
        assert stored.model == f"azureml:{model_name}:1"
        assert stored.provisioning_state == "Succeeded"
        assert (stored.compute, stored.resources.instance_count) == (compute_name, 2)
    assert [m.version for m in ml_client.models.list(name=model_name)] == ["1"]

    endpoint = ml_client.batch_endpoints.get(endpoint.name)
    endpoint.defaults.deployment_name = deployment.name
    ml_client.batch_endpoints.begin_create_or_update(endpoint).result()
    assert ml_client.batch_endpoints.get(endpoint.name).defaults.deployment_name == "classifier-b"

    heart_dataset_unlabeled = Data(
        path=str(files / "data"),
        type=AssetTypes.URI_FOLDER,
        description="An unlabeled dataset",
        name="heart-dataset-unlabeled",
    )
    ml_client.data.create_or_update(heart_dataset_unlabeled)
    heart_dataset_unlabeled = ml_client.data.get(name="heart-dataset-unlabeled", label="latest")
    input = Input(type=AssetTypes.URI_FOLDER, path=heart_dataset_unlabeled.id)
    batch_ds = ml_client.datastores.get_default()
    job = ml_client.batch_endpoints.invoke(
        endpoint_name=endpoint.name,
        input=input,
        params_override=[  # Azure's documented keys, values as strings as in its samples
            {"mini_batch_size": "2"},
            {"compute.instance_count": "1"},
            {"output_file_name": "scores.csv"},
            {"logging_level": "debug"},
            {"environment_variables.EXTRA": "3"},
            {"output_dataset.datastore_id": f"azureml:{batch_ds.id}"},
            {"output_dataset.path": "/heart/scores"},
        ],
    )
    assert job.studio_url == f"{ml_client.server_url}/api/v1/jobs/{job.name}"  # no studio yet
    capsys.readouterr()
    ml_client.jobs.stream(job.name)
    # As `ferry job stream`: progress, the script's own lines, then the job's result file.
    streamed = capsys.readouterr().out
    assert f"RunId: {job.name}" in streamed
    assert "[progress] Completed: 5/5 items (0 failed), mini-batches 3/3" in streamed
    assert "run method start: run(2 files)" in streamed
    assert "===== logs/job_result.txt =====" in streamed

    scoring_job = list(ml_client.jobs.list(parent_job_name=job.name))[0]  # noqa: RUF015 (as the notebook)
    assert (scoring_job.status, scoring_job.deployment_name) == ("Completed", "classifier-b")
    context = scoring_job.creation_context
    assert context is not None and context.created_at and context.last_modified_at
    assert context.last_modified_at >= context.created_at
    shown = ml_client.jobs.get(scoring_job.name)
    assert shown.raw["overrides"]["instance_count"] == 1
    assert shown.raw["output_path"] == "azureml://datastores/workspaceblobstore/paths/heart/scores"
    progress = shown.progress
    assert progress and progress["mini_batches_total"] == 3  # mini_batch_size 2 over 5 files

    ml_client.jobs.download(name=scoring_job.name, download_path=str(tmp_path), output_name="score")
    score = pd.read_csv(
        tmp_path / "named-outputs" / "score" / "scores.csv", sep=" ", names=["file", "score"]
    )
    assert sorted(score["score"]) == [0, 30, 60, 90, 120]


def test_deployment_entity_round_trip(ml_client: MLClient, files: Path) -> None:
    """A deployment from get(), changed and sent back, keeps its references."""
    ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name="round-trip")).result()
    model = ml_client.models.create_or_update(Model(name="rt-model", path=str(files / "model")))
    ml_client.batch_deployments.begin_create_or_update(
        _deployment("rt-dep", "round-trip", model, files)
    ).result()
    got = ml_client.batch_deployments.get("rt-dep", endpoint_name="round-trip")
    assert got.settings is not None and got.settings.mini_batch_size == 10
    got.settings.mini_batch_size = 4
    got.description = "changed"
    again = ml_client.batch_deployments.begin_create_or_update(got).result()
    assert (again.settings and again.settings.mini_batch_size, again.description) == (4, "changed")
    assert again.code_configuration == got.code_configuration
    assert [d.name for d in ml_client.batch_deployments.list("round-trip")] == ["rt-dep"]
    assert isinstance(ml_client.batch_endpoints.list()[0], BatchEndpoint)


def test_registered_environment_is_a_reference(ml_client: MLClient, files: Path) -> None:
    conda = files / "conda.yaml"
    conda.write_text("name: e\ndependencies:\n  - python=3.11\n  - pip\n")
    ml_client.environments.create_or_update(
        Environment(name="nb-env", conda_file=str(conda), image="python:3.11")
    )
    env = ml_client.environments.get("nb-env", version="1")
    ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name="env-ref")).result()
    deployment = _deployment("env-dep", "env-ref", ml_client.models.get("rt-model"), files)
    deployment.environment = env
    stored = ml_client.batch_deployments.begin_create_or_update(deployment).result()
    assert stored.environment == "azureml:nb-env:1"
    assert [e.version for e in ml_client.environments.list(name="nb-env")] == ["1"]


def test_anonymous_inline_model(ml_client: MLClient, files: Path) -> None:
    ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name="anon-ep")).result()
    deployment = _deployment("anon-dep", "anon-ep", Model(path=str(files / "model")), files)
    stored = ml_client.batch_deployments.begin_create_or_update(deployment).result()
    assert stored.model == "azureml:anon-ep-anon-dep-model:1"
    with pytest.raises(InvalidInputError, match=r"needs a name: Model\(name=\.\.\."):
        ml_client.models.create_or_update(Model(path=str(files / "model")))


def test_input_path_and_type() -> None:
    assert Input(path=Path("/tmp/data")).path == "/tmp/data"
    registered = Data(
        name="d", version="3", id="azureml:d:3", path="azureml://datastores/x/paths/y"
    )
    assert Input(path=registered).path == "azureml:d:3"  # a registered Data is its reference
    assert Input(path=Data(name="d", path="./local")).path == "./local"
    with pytest.raises(InvalidInputError, match="'uri_flder' is not valid; use one of uri_folder"):
        Input(type="uri_flder", path="x")


def test_outputs_name_the_score_output(ml_client: MLClient, files: Path) -> None:
    with pytest.raises(InvalidInputError, match="one output, 'score', not 'results'"):
        ml_client.batch_endpoints.invoke(
            endpoint_name="heart-classifier",
            input=Input(path=str(files / "data")),
            outputs={"results": Output(type=AssetTypes.URI_FOLDER, mode=InputOutputModes.RW_MOUNT)},
        )


def test_load_functions_read_azure_yaml(examples: Path) -> None:
    heart = examples / "batch/deploy-models/heart-classifier-mlflow"
    deployment = load_batch_deployment(
        heart / "deployment-custom/deployment.yml",
        params_override=[{"endpoint_name": "heart-classifier"}, {"settings.mini_batch_size": 3}],
    )
    assert isinstance(deployment, ModelBatchDeployment)
    assert deployment.endpoint_name == "heart-classifier"
    assert deployment.settings is not None and deployment.settings.mini_batch_size == 3
    assert deployment.code_configuration is not None
    # Relative to the YAML's folder, as Azure resolves it.
    assert deployment.code_configuration.code == str(heart / "deployment-custom" / "code")
    model = load_model(
        io.StringIO("name: m\npath: model\ntype: mlflow_model\n"), relative_origin=str(heart)
    )
    assert (model.name, model.path) == ("m", str(heart / "model"))
    cluster = load_compute(
        io.StringIO("name: batch-cluster\ntype: amlcompute\nsize: STANDARD_DS3_v2\n")
    )
    assert isinstance(cluster, AmlCompute)
    assert (cluster.max_instances, cluster.idle_time_before_scale_down) == (4, 120)


def test_stream_of_a_failed_job_prints_the_error_and_raises(
    ml_client: MLClient, files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = tmp_path / "broken"
    code.mkdir()
    (code / "batch_driver.py").write_text(
        "def init():\n    print('loading the model')\n    raise RuntimeError('no weights')\n"
        "def run(mini_batch):\n    return []\n"
    )
    ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name="broken-ep")).result()
    deployment = _deployment("broken", "broken-ep", ml_client.models.get("rt-model"), files)
    deployment.code_configuration = CodeConfiguration(code=code, scoring_script="batch_driver.py")
    ml_client.batch_deployments.begin_create_or_update(deployment).result()
    ml_client.batch_endpoints.get("broken-ep")
    job = ml_client.batch_endpoints.invoke(
        endpoint_name="broken-ep", deployment_name="broken", input=Input(path=files / "data")
    )
    capsys.readouterr()
    with pytest.raises(FerryError, match=rf"job {job.name} failed: .*jobs.download"):
        ml_client.jobs.stream(job.name)
    streamed = capsys.readouterr().out
    assert "loading the model" in streamed
    assert "===== logs/job_error.txt =====" in streamed and "no weights" in streamed


def test_sdk_constructors_raise_ferrys_error_naming_the_field() -> None:
    with pytest.raises(
        SpecError,
        match=r"invalid ModelBatchDeployment: field 'settings.retry_settings.timeout': .*than 0",
    ):
        ModelBatchDeployment(name="dep", settings={"retry_settings": {"timeout": 0}})
    with pytest.raises(
        SpecError, match=r"invalid ModelBatchDeploymentSettings: field 'retry_settings.timeout'"
    ):
        ModelBatchDeploymentSettings(retry_settings={"timeout": 0})
    with pytest.raises(
        SpecError, match=r"'settings.mini_batchsize': did you mean 'mini_batch_size'"
    ):
        ModelBatchDeployment(name="dep", settings={"mini_batchsize": 3})
    with pytest.raises(SpecError, match="invalid BatchRetrySettings: field 'max_retries'"):
        BatchRetrySettings(max_retries=-1)
    with pytest.raises(
        SpecError, match=r"field 'defaults': unknown key.*only one is deployment_name"
    ):
        BatchEndpoint(name="abc", defaults={"deployment": "d"})
