"""The shared heart-classifier MLflow model, as Azure's samples deploy it, end to end.

The model asks for python=3.8.5 and pins scikit-learn==1.1.2, which has no wheel for newer
Pythons and whose sdist fails to build. Unchanged, with no property set, Ferry builds it on the
nearest installed 3.8 (or repairs the pins on another Python), resolves the unpinned mlflow as of
the model's save date, and the job reports each change; ``ferry_resolution: strict`` refuses the
same spec. This builds a real uv environment (cached across runs).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from ferry import BatchDeployment, BatchEndpoint, Data, Input, MLClient, Model
from ferry.local_workspace.launcher import stop_server
from ferry.settings import Settings
from ferry.specs.batch import CodeConfigurationSpec
from ferry.specs.loader import apply_overrides, load_spec, read_yaml, spec_from_data
from tests.cli.conftest import make_ferry

HEART = "batch/deploy-models/heart-classifier-mlflow"

CUSTOM_DRIVER = """
import glob
import os

import mlflow.pyfunc
import pandas as pd


def init():
    global model
    folder = glob.glob(os.path.join(os.environ["AZUREML_MODEL_DIR"], "*"))[0]
    model = mlflow.pyfunc.load_model(folder)


def run(mini_batch):
    results = []
    for path in mini_batch:
        data = pd.read_csv(path)
        for index, prediction in enumerate(model.predict(data)):
            results.append(f"{os.path.basename(path)} {index} {int(prediction)}")
    return results
"""


@pytest.fixture(scope="module")
def heart(
    tmp_path_factory: pytest.TempPathFactory, examples: Path
) -> Iterator[tuple[MLClient, Path]]:
    settings = Settings(workspace=tmp_path_factory.mktemp("heart"))
    client = MLClient(settings=settings)
    base = examples / HEART
    client.models.create_or_update(
        Model(
            name="heart-classifier-mlflow",
            path=str(base / "deployment-simple/model"),
            type="mlflow_model",
        )
    )
    client.data.create_or_update(
        Data(name="heart-dataset-unlabeled", path=str(base / "data"), type="uri_folder")
    )
    client.batch_endpoints.begin_create_or_update(load_spec(BatchEndpoint, base / "endpoint.yml"))
    yield client, base
    client.close()
    stop_server(settings)


def _rows(client: MLClient, job_name: str, dest: Path, names: list[str]) -> pd.DataFrame:
    done = client.jobs.wait(job_name, timeout=1200)
    assert done.status == "Completed", done.error
    out = client.jobs.download(job_name, download_path=str(dest))
    return pd.read_csv(out / "predictions.csv", header=None, names=names, sep=" ")


def test_no_code_mlflow_deployment(heart: tuple[MLClient, Path], tmp_path: Path) -> None:
    client, base = heart
    yml = base / "deployment-simple" / "deployment.yml"
    deployment = spec_from_data(BatchDeployment, read_yaml(yml), base_dir=yml.parent)
    assert not deployment.properties  # unchanged: no property set
    client.batch_deployments.begin_create_or_update(deployment, set_default=True)
    job = client.batch_endpoints.invoke(
        endpoint_name="heart-classifier-batch",
        input=Input(type="uri_folder", path="azureml:heart-dataset-unlabeled@latest"),
    )
    frame = _rows(client, job.name, tmp_path, ["row", "prediction", "file"])
    expected = sum(len(pd.read_csv(f)) for f in sorted((base / "data").glob("*.csv")))
    assert len(frame) == expected
    assert set(frame["prediction"]) <= {0, 1}
    assert set(frame["file"]) == {f.name for f in (base / "data").glob("*.csv")}
    notices = (client.jobs.get(job.name).model_extra or {}).get("notices", [])
    print("\nnotices:", *notices, sep="\n  ")
    # each change is reported: the interpreter chosen for python=3.8.5 and why, the date
    # unpinned packages were resolved as of, and any pin moved
    assert any(n.startswith("Python 3.") and "for python=3.8.5: " in n for n in notices), notices
    assert any("unpinned packages resolve as of 2022-10-13" in n for n in notices), notices
    if not any("for python=3.8.5: " in n and n.startswith("Python 3.8.") for n in notices):
        assert any(n.startswith("environment repair: scikit-learn 1.1.2 → ") for n in notices)
    # and `ferry job show` shows the same report
    shown = make_ferry(client.settings.workspace).json("job", "show", "--name", job.name)
    assert shown["notices"] == notices


def test_strict_resolution_refuses_the_same_spec(heart: tuple[MLClient, Path]) -> None:
    client, base = heart
    yml = base / "deployment-simple" / "deployment.yml"
    data = apply_overrides(
        read_yaml(yml), ["name=classifier-strict", "properties.ferry_resolution=strict"]
    )
    client.batch_deployments.begin_create_or_update(
        spec_from_data(BatchDeployment, data, base_dir=yml.parent)
    )
    job = client.batch_endpoints.invoke(
        endpoint_name="heart-classifier-batch",
        deployment_name="classifier-strict",
        input=Input(type="uri_folder", path="azureml:heart-dataset-unlabeled@latest"),
    )
    done = client.jobs.wait(job.name, timeout=1200)
    assert done.status == "Failed"
    message = str(done.error)
    print("\n" + message)
    assert "ferry_resolution is strict" in message
    assert "Fix:" in message and "ferry_resolution: strict" in message.split("Fix:")[1]
    assert "ResolutionPolicy" not in message and "strict_python" not in message


def test_custom_driver_on_the_same_model(heart: tuple[MLClient, Path], tmp_path: Path) -> None:
    client, base = heart
    code = tmp_path / "code"
    code.mkdir()
    (code / "batch_driver.py").write_text(CUSTOM_DRIVER)
    simple = load_spec(BatchDeployment, base / "deployment-simple" / "deployment.yml")
    deployment = simple.model_copy(
        update={
            "name": "classifier-custom-test",
            "code_configuration": CodeConfigurationSpec(
                code=str(code), scoring_script="batch_driver.py"
            ),
            "properties": {"ferry_resolution": "relaxed"},
        }
    )
    client.batch_deployments.begin_create_or_update(deployment)
    job = client.batch_endpoints.invoke(
        endpoint_name="heart-classifier-batch",
        deployment_name="classifier-custom-test",
        input=Input(type="uri_folder", path=str(base / "data")),
    )
    frame = _rows(client, job.name, tmp_path, ["file", "row", "prediction"])
    expected = sum(len(pd.read_csv(f)) for f in sorted((base / "data").glob("*.csv")))
    assert len(frame) == expected
