"""examples/detector-online: the detector on its own, deploy.py's traffic split, then blue/green
through a real server (deployments told apart by the ``azureml-model-deployment`` header)."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import httpx
import numpy as np
import PIL.Image as Image
import PIL.ImageDraw as ImageDraw
import pytest

from ferry import MLClient
from ferry.errors import FerryError
from tests.examples.support import EXAMPLES, load_script

EXAMPLE = EXAMPLES / "detector-online"
ENDPOINT = "detector"


@pytest.fixture(scope="module")
def detector() -> ModuleType:
    return load_script(EXAMPLE / "code" / "detector.py")


@pytest.fixture(scope="module")
def deploy_py() -> ModuleType:
    return load_script(EXAMPLE / "deploy.py")


@pytest.fixture(scope="module")
def sample() -> bytes:
    """make_sample.py's image: 3 strong, 3 medium and 2 faint shapes, one on the centre."""
    make_sample = load_script(EXAMPLE / "make_sample.py")
    assert make_sample.expected_counts() == {"strong": 3, "medium": 3, "faint": 2}
    out = io.BytesIO()
    make_sample.draw().save(out, format="PNG")
    return out.getvalue()


def _detect(detector: ModuleType, image_bytes: bytes, **settings: Any) -> list[dict[str, Any]]:
    model = detector.BlobDetector.load(EXAMPLE / "blob-detector")
    image = Image.open(io.BytesIO(image_bytes))
    return model.detect(image, detector.InferenceSettings(**settings))  # type: ignore[no-any-return]


@pytest.mark.parametrize(("thresh", "count"), [(0.3, 8), (0.5, 6), (0.8, 3)])
@pytest.mark.parametrize("grid", [None, (2, 2), (3, 2)])
def test_threshold_sets_the_box_count_with_or_without_tiles(
    detector: ModuleType, sample: bytes, thresh: float, count: int, grid: tuple[int, int] | None
) -> None:
    boxes = _detect(detector, sample, box_score_thresh=thresh, tile_grid_size=grid)

    assert len(boxes) == count
    assert all(b["score"] > thresh for b in boxes)
    assert [b["score"] for b in boxes] == sorted((b["score"] for b in boxes), reverse=True)
    # The shape on the centre is cut by every tile edge there, and still one whole box.
    whole = sorted(b["box"] for b in _detect(detector, sample, box_score_thresh=thresh))
    assert sorted(b["box"] for b in boxes) == whole


def test_detections_per_image_keeps_the_best(detector: ModuleType, sample: bytes) -> None:
    boxes = _detect(detector, sample, box_score_thresh=0.0, box_detections_per_img=2)
    assert len(boxes) == 2
    assert boxes[0]["label"] == "dark" and boxes[0]["score"] > 0.9


def test_tiles_find_objects_under_uneven_lighting(detector: ModuleType) -> None:
    # Light falls off from left to right: against one global background, each half of the image
    # is one big "object"; against each tile's own background, the four dark spots stand out.
    falloff = np.linspace(1.0, 0.45, 256)
    pixels = np.tile(falloff[None, :, None], (64, 1, 3)) * 255
    image = Image.fromarray(pixels.round().astype("uint8"))
    draw = ImageDraw.Draw(image)
    spots = []
    for x in (30, 95, 160, 225):
        level = round(falloff[x] * 255 * 0.15)
        draw.ellipse([x - 8, 24, x + 8, 40], fill=(level,) * 3)
        spots.append([x - 8, 24, x + 9, 41])
    out = io.BytesIO()
    image.save(out, format="PNG")

    tiled = _detect(detector, out.getvalue(), tile_grid_size=(4, 1))
    whole = _detect(detector, out.getvalue(), box_score_thresh=0.0)

    assert sorted(b["box"] for b in tiled) == spots
    assert sorted(b["box"] for b in whole) != spots
    assert max(b["box"][2] - b["box"][0] for b in whole) > 64


def test_settings_come_from_the_environment(detector: ModuleType) -> None:
    settings = detector.InferenceSettings.from_env(
        {"BOX_SCORE_THRESH": "0.8", "TILE_GRID_SIZE": "3x2", "BOX_DETECTIONS_PER_IMG": "5"}
    )
    assert (settings.box_score_thresh, settings.tile_grid_size) == (0.8, (3, 2))
    assert settings.box_detections_per_img == 5
    assert detector.InferenceSettings.from_env({}) == detector.InferenceSettings()
    assert detector.InferenceSettings.from_env({"TILE_GRID_SIZE": "1x1"}).tile_grid_size is None
    assert detector.InferenceSettings.from_env({"TILE_GRID_SIZE": "2"}).tile_grid_size == (2, 2)
    with pytest.raises(ValueError, match="TILE_GRID_SIZE 'big' is not a grid: write COLSxROWS"):
        detector.InferenceSettings.from_env({"TILE_GRID_SIZE": "big"})
    with pytest.raises(ValueError, match="BOX_SCORE_THRESH='high' is not a float"):
        detector.InferenceSettings.from_env({"BOX_SCORE_THRESH": "high"})
    with pytest.raises(ValueError, match=r"BOX_SCORE_THRESH is 1\.5; use 0 to 1"):
        detector.InferenceSettings.from_env({"BOX_SCORE_THRESH": "1.5"})


def test_traffic_split_gives_the_rest_to_the_others(deploy_py: ModuleType) -> None:
    split = deploy_py.split
    assert split({"blue": 100}, "green", 0) == {"blue": 100, "green": 0}
    assert split({"blue": 100, "green": 0}, "green", 10) == {"blue": 90, "green": 10}
    assert split({"blue": 90, "green": 10}, "green", 100) == {"blue": 0, "green": 100}
    assert split({"blue": 0, "green": 100}, "green", 50) == {"blue": 50, "green": 50}
    assert split({"a": 50, "b": 25, "c": 25}, "c", 0) == {"a": 67, "b": 33, "c": 0}
    assert split({}, "blue", 100) == {"blue": 100}
    with pytest.raises(SystemExit, match="blue is the endpoint's only deployment"):
        split({"blue": 100}, "blue", 50)


# --- through a real server --------------------------------------------------------------------


@pytest.fixture(scope="module")
def rollout(ml_client: MLClient, deploy_py: ModuleType) -> list[str]:
    """deploy.py's blue (0.5, no tiles, all traffic) and green (0.8, 2x2 tiles, no traffic)."""
    common = ["--workspace", str(ml_client.settings.workspace), "--endpoint", ENDPOINT]
    common += ["--server-python"]  # no environment build in tests
    deploy_py.main(
        [*common, "--deployment", "blue", "--box-score-thresh", "0.5", "--traffic", "100"]
    )
    green = ["--deployment", "green", "--box-score-thresh", "0.8", "--tile-grid-size", "2x2"]
    deploy_py.main([*common, *green, "--traffic", "0"])
    return common


@pytest.fixture(scope="module")
def http(ml_client: MLClient, rollout: list[str]) -> Iterator[tuple[httpx.Client, str]]:
    key = ml_client.online_endpoints.get_keys(ENDPOINT).primary_key  # type: ignore[union-attr]
    uri = ml_client.online_endpoints.get(ENDPOINT).scoring_uri
    assert uri is not None
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
        yield client, uri


def _score(
    http: tuple[httpx.Client, str], image: bytes, deployment: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    client, uri = http
    headers = {"azureml-model-deployment": deployment} if deployment else {}
    response = client.post(uri, files={"file": ("s.png", image, "image/png")}, headers=headers)
    assert response.status_code == 200, response.text
    return response.headers["azureml-model-deployment"], response.json()


def test_each_deployment_applies_its_own_parameters(
    ml_client: MLClient, http: tuple[httpx.Client, str], sample: bytes, detector: ModuleType
) -> None:
    green = ml_client.online_deployments.get("green", ENDPOINT)
    assert green.environment_variables["BOX_SCORE_THRESH"] == "0.8"
    assert green.environment_variables["TILE_GRID_SIZE"] == "2x2"
    assert ml_client.online_endpoints.get(ENDPOINT).traffic == {"blue": 100, "green": 0}

    served_by_blue, blue = _score(http, sample, "blue")
    served_by_green, green_boxes = _score(http, sample, "green")

    assert (served_by_blue, served_by_green) == ("blue", "green")
    assert len(blue) == 6 and all(b["score"] > 0.5 for b in blue)
    assert len(green_boxes) == 3 and all(b["score"] > 0.8 for b in green_boxes)
    assert {tuple(b["box"]) for b in green_boxes} <= {tuple(b["box"]) for b in blue}
    assert blue == _detect(detector, sample, box_score_thresh=0.5)
    # The raw image as the body works as well as the multipart field.
    client, uri = http
    raw = client.post(
        uri,
        content=sample,
        headers={"Content-Type": "image/png", "azureml-model-deployment": "blue"},
    )
    assert raw.json() == blue


def test_90_10_split_then_all_to_green(
    ml_client: MLClient,
    deploy_py: ModuleType,
    rollout: list[str],
    http: tuple[httpx.Client, str],
    sample: bytes,
) -> None:
    deploy_py.main([*rollout, "--deployment", "green", "--traffic", "10", "--traffic-only"])
    assert ml_client.online_endpoints.get(ENDPOINT).traffic == {"blue": 90, "green": 10}

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: _score(http, sample), range(200)))

    served = Counter(name for name, _ in answers)
    assert served["blue"] + served["green"] == 200
    assert 6 <= served["green"] <= 40, f"green served {served['green']} of 200, expected ~20"
    # Each deployment answers with its own threshold's boxes.
    assert {(name, len(boxes)) for name, boxes in answers} == {("blue", 6), ("green", 3)}

    deploy_py.main([*rollout, "--deployment", "green", "--traffic", "100", "--traffic-only"])
    assert ml_client.online_endpoints.get(ENDPOINT).traffic == {"blue": 0, "green": 100}
    with ThreadPoolExecutor(2) as pool:
        after = list(pool.map(lambda _: _score(http, sample)[0], range(40)))
    assert set(after) == {"green"}


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"hello", "application/octet-stream", "not an image Pillow can read"),
        (b"", "image/png", "the body is empty"),
    ],
)
def test_bad_uploads_are_400(
    http: tuple[httpx.Client, str], body: bytes, content_type: str, message: str
) -> None:
    client, uri = http
    response = client.post(uri, content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_multipart_without_a_file_field_is_400(
    http: tuple[httpx.Client, str], sample: bytes
) -> None:
    client, uri = http
    response = client.post(uri, files={"image": ("s.png", sample, "image/png")})
    assert response.status_code == 400
    assert "no multipart field 'file' (got ['image'])" in response.json()["error"]


def test_a_bad_parameter_fails_the_deployment_with_the_reason(
    ml_client: MLClient, deploy_py: ModuleType, rollout: list[str]
) -> None:
    with pytest.raises(FerryError, match="TILE_GRID_SIZE 'big' is not a grid: write COLSxROWS"):
        deploy_py.main([*rollout, "--deployment", "broken", "--tile-grid-size", "big"])
    assert ml_client.online_deployments.get("broken", ENDPOINT).provisioning_state == "Failed"
    ml_client.online_deployments.begin_delete("broken", ENDPOINT).result()
