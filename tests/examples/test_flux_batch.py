"""examples/flux-batch: a tiny random FLUX.1 pipeline, the scoring script on its own, then a job."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import diffusers
import pandas as pd
import pytest
import torch

from ferry import AssetTypes, Input, MLClient
from ferry.specs.batch import BatchDeploymentSpec, BatchEndpointSpec
from ferry.specs.loader import load_spec
from tests.examples.support import EXAMPLES, copy_example, load_script

SIZE = (64, 64)
PROMPTS = sorted(p.name for p in (EXAMPLES / "flux-batch" / "data").glob("*.json"))


@pytest.fixture(scope="module")
def flux(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example with its prompt files and the tiny pipeline in tiny-flux/."""
    example = copy_example("flux-batch", tmp_path_factory.mktemp("flux"), with_data=True)
    load_script(example / "make_tiny_flux.py").build(example / "tiny-flux")
    return example


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    # Tiny tensors on shared cores: more threads only add contention.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _assert_png(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as image:
        assert (image.format, image.size) == ("PNG", SIZE)
        image.verify()


def test_tiny_flux_loads_back_and_generates(flux: Path) -> None:
    pipe = diffusers.FluxPipeline.from_pretrained(flux / "tiny-flux", dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)

    image = pipe("A red fox in the snow", num_inference_steps=2, width=64, height=64).images[0]

    assert image.size == SIZE
    size = sum(f.stat().st_size for f in (flux / "tiny-flux").rglob("*") if f.is_file())
    assert size < 2_000_000


@pytest.mark.usefixtures("script_argv")
def test_batch_score_writes_uniquely_named_pngs(
    flux: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # AZUREML_MODEL_DIR holds the registered folder under its own name, as a worker sees it.
    model_root = tmp_path / "model-root"
    shutil.copytree(flux / "tiny-flux", model_root / "tiny-flux")
    output = tmp_path / "score"
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(model_root))
    monkeypatch.setenv("AZUREML_BI_OUTPUT_PATH", str(output))
    script = load_script(flux / "code" / "batch_score.py")
    script.init()
    requests = [str(flux / "data" / name) for name in PROMPTS[:2]]

    first = script.run(requests)
    second = script.run(requests)

    images = [line.split(" ")[1] for line in first + second]
    assert [line.split(" ")[0] for line in first] == PROMPTS[:2]
    assert len(set(images)) == 4  # the same requests again never overwrite an image
    assert sorted(p.name for p in output.iterdir()) == sorted(images)
    for name in images:
        _assert_png(output / name)


@pytest.mark.slow  # 15-25 s: the worker imports torch and diffusers
def test_flux_job_end_to_end(flux: Path, ml_client: MLClient, tmp_path: Path) -> None:
    endpoint = load_spec(BatchEndpointSpec, flux / "endpoint.yml")
    ml_client.batch_endpoints.begin_create_or_update(endpoint)
    deployment = load_spec(BatchDeploymentSpec, flux / "deployment.yml")
    deployment.environment = "ferry:server-python"  # no environment build in tests
    assert deployment.settings is not None
    deployment.settings.environment_variables["OMP_NUM_THREADS"] = "1"  # tiny tensors
    ml_client.batch_deployments.begin_create_or_update(deployment, set_default=True)

    job = ml_client.batch_endpoints.invoke(
        endpoint_name=endpoint.name,
        input=Input(path=str(flux / "data"), type=AssetTypes.URI_FOLDER),
    )
    job = ml_client.jobs.wait(job.name, timeout=240)
    assert job.status == "Completed", job.error

    score = ml_client.jobs.download(job.name, download_path=str(tmp_path), output_name="score")
    assert score == tmp_path / "named-outputs" / "score"
    rows = pd.read_csv(
        score / "predictions.csv", header=None, names=["prompt_file", "image_file"], sep=" "
    )
    assert sorted(rows["prompt_file"]) == PROMPTS
    assert rows["image_file"].is_unique
    assert sorted(p.name for p in score.glob("*.png")) == sorted(rows["image_file"])
    for name in rows["image_file"]:
        _assert_png(score / name)
