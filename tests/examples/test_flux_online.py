"""examples/flux-online: run.py deploys the tiny FLUX.1 pipeline; the endpoint answers PNGs."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from ferry import MLClient
from tests.examples.support import copy_example

# Only run.py and the replica import torch and diffusers (seconds each), not this process.

#: 20-30 s in all: run.py and the replica each import torch and diffusers.
pytestmark = pytest.mark.slow

ENDPOINT = "flux-online"


@pytest.fixture(scope="module")
def flux(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example, without tiny-flux/, beside a copy of flux-batch."""
    root = tmp_path_factory.mktemp("examples")
    copy_example("flux-batch", root)
    return copy_example("flux-online", root)


@pytest.fixture(scope="module")
def deployed(flux: Path, ml_client: MLClient) -> subprocess.CompletedProcess[str]:
    """run.py against the module's server: builds the tiny pipeline with flux-batch's
    make_tiny_flux.py, deploys it, saves one 64x64 PNG and leaves the endpoint running."""
    done = subprocess.run(
        [
            *(sys.executable, str(flux / "run.py"), str(ml_client.settings.workspace)),
            *("--server-python", "--output", str(flux / "outputs" / "first.png")),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def http(ml_client: MLClient, deployed: Any) -> Iterator[tuple[httpx.Client, str]]:
    """An HTTP client with the endpoint's key, and its scoring URI."""
    key = ml_client.online_endpoints.get_keys(ENDPOINT).primary_key  # type: ignore[union-attr]
    uri = ml_client.online_endpoints.get(ENDPOINT).scoring_uri
    assert uri is not None
    with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {key}"}) as client:
        yield client, uri


def _png(data: bytes) -> Any:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    image.verify()
    return image


def test_run_py_builds_the_tiny_pipeline_and_saves_the_png(
    flux: Path, deployed: subprocess.CompletedProcess[str]
) -> None:
    assert f"building the tiny FLUX pipeline in {flux / 'tiny-flux'}" in deployed.stdout
    assert (flux / "tiny-flux" / "model_index.json").is_file()
    saved = flux / "outputs" / "first.png"
    assert str(saved) in deployed.stdout
    assert _png(saved.read_bytes()).size == (64, 64)
    assert "from deployment flux-tiny" in deployed.stdout
    assert "curl -s -H 'Authorization: Bearer " in deployed.stdout


def test_png_of_the_requested_size(http: tuple[httpx.Client, str]) -> None:
    client, uri = http
    request = {"prompt": "A lighthouse at dusk", "steps": 2, "width": 96, "height": 48, "seed": 7}

    first = client.post(uri, json=request)
    again = client.post(uri, json=request)

    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "image/png"
    assert first.headers["azureml-model-deployment"] == "flux-tiny"
    assert _png(first.content).size == (96, 48)
    assert again.content == first.content  # the seed makes the image reproducible


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "the body is not JSON"),
        (json.dumps({"steps": 2}).encode(), 'a "prompt" string'),
        (json.dumps({"prompt": "x", "width": 100}).encode(), "width must be a multiple of 16"),
        (json.dumps({"prompt": "x", "steps": "many"}).encode(), "are integers"),
    ],
)
def test_bad_requests_are_400_with_the_reason(
    http: tuple[httpx.Client, str], body: bytes, message: str
) -> None:
    client, uri = http
    response = client.post(uri, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_get_is_405(http: tuple[httpx.Client, str]) -> None:
    client, uri = http
    response = client.get(uri)
    assert response.status_code == 405
    assert "POST" in response.text
