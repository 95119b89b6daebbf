"""examples/digits-batch: the scoring script on its own, then the whole flow through Ferry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from ferry import AssetTypes, Input, MLClient
from ferry.specs.batch import BatchDeploymentSpec, BatchEndpointSpec
from ferry.specs.loader import load_spec
from tests.examples.support import copy_example, load_script

N_IMAGES = 120


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example with model/ and data/ made by its train.py."""
    example = copy_example("digits-batch", tmp_path_factory.mktemp("digits"))
    load_script(example / "train.py").train(example, N_IMAGES)
    return example


def _accuracy(files: pd.Series, predictions: pd.Series, label_of: Callable[[str], int]) -> float:
    truth = files.map(label_of)
    return float((truth == predictions).mean())


def test_train_writes_model_and_labelled_pngs(digits: Path) -> None:
    assert (digits / "model" / "digits.pkl").is_file()
    images = sorted((digits / "data").glob("img-*-label*.png"))
    assert len(images) == N_IMAGES
    with Image.open(images[0]) as image:
        assert (image.format, image.mode, image.size) == ("PNG", "L", (8, 8))


@pytest.mark.usefixtures("script_argv")
def test_driver_init_and_run_classify_the_held_out_digits(
    digits: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(digits))
    driver = load_script(digits / "code" / "batch_driver.py")
    driver.init()
    files = sorted((digits / "data").glob("*.png"))[:40]

    result = driver.run([str(f) for f in files])

    assert list(result.columns) == ["file", "prediction"]
    assert list(result["file"]) == [f.name for f in files]
    label_of = load_script(digits / "train.py").label_of
    assert _accuracy(result["file"], result["prediction"], label_of) > 0.9
    assert len(driver.run([])) == 0


def test_digits_job_end_to_end(digits: Path, ml_client: MLClient, tmp_path: Path) -> None:
    endpoint = load_spec(BatchEndpointSpec, digits / "endpoint.yml")
    ml_client.batch_endpoints.begin_create_or_update(endpoint)
    deployment = load_spec(BatchDeploymentSpec, digits / "deployment.yml")
    deployment.environment = "ferry:server-python"  # no environment build in tests
    ml_client.batch_deployments.begin_create_or_update(deployment, set_default=True)

    job = ml_client.batch_endpoints.invoke(
        endpoint_name=endpoint.name,
        input=Input(path=str(digits / "data"), type=AssetTypes.URI_FOLDER),
    )
    job = ml_client.jobs.wait(job.name, timeout=120)
    assert job.status == "Completed", job.error

    ml_client.jobs.download(job.name, download_path=str(tmp_path), output_name="score")
    predictions = tmp_path / "named-outputs" / "score" / "predictions.csv"
    score = pd.read_csv(predictions, header=None, names=["file", "prediction"], sep=" ")
    assert sorted(score["file"]) == sorted(p.name for p in (digits / "data").glob("*.png"))
    label_of = load_script(digits / "train.py").label_of
    assert _accuracy(score["file"], score["prediction"], label_of) > 0.9
