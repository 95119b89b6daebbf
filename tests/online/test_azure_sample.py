"""Azure's own sample (endpoint.yml, blue/green deployments, model-1/2) runs unchanged."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from ferry import MLClient
from ferry.specs.loader import load_spec
from ferry.specs.online import OnlineDeploymentSpec, OnlineEndpointSpec
from tests.online.conftest import SERVER_PYTHON, metric, scoring, write_code

# The score.py of Azure's model-1/model-2 sample (not shipped with the data), as Azure writes it.
SCORE_PY = """
import json
import logging
import os

import joblib
import numpy


def init():
    global model
    model_path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model/sklearn_regression_model.pkl")
    model = joblib.load(model_path)
    logging.info("Init complete")


def run(raw_data):
    logging.info("model: request received")
    data = json.loads(raw_data)["data"]
    data = numpy.array(data)
    result = model.predict(data)
    logging.info("Request processed")
    return result.tolist()
"""

ENDPOINT = "my-endpoint"


@pytest.fixture(scope="module")
def sample(ml_client: MLClient, examples: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """my-endpoint with blue (model-1) at 100%, green (model-2) deployed without traffic."""
    code = write_code(tmp_path_factory.mktemp("onlinescoring"), SCORE_PY)
    folder = examples / "online" / "managed" / "sample"
    endpoint = load_spec(OnlineEndpointSpec, folder / "endpoint.yml")
    ml_client.online_endpoints.begin_create_or_update(endpoint).result()
    overrides = [f"code_configuration.code={code}", f"environment={SERVER_PYTHON}"]
    for yml in ("blue-deployment.yml", "green-deployment.yml"):
        deployment = load_spec(OnlineDeploymentSpec, folder / yml, overrides)
        ml_client.online_deployments.begin_create_or_update(deployment).result(timeout=120)
    endpoint.traffic = {"blue": 100}
    ml_client.online_endpoints.begin_create_or_update(endpoint).result()
    return examples / "online" / "model-1" / "sample-request.json"


def test_sample_request_scores_with_model_1(
    ml_client: MLClient, sample: Path, http: httpx.Client
) -> None:
    answer = json.loads(ml_client.online_endpoints.invoke(ENDPOINT, request_file=sample))
    assert [round(x, 2) for x in answer] == [11055.98, 4503.08]
    uri, headers = scoring(ml_client, ENDPOINT)
    response = http.post(uri, content=sample.read_bytes(), headers=headers)
    assert response.status_code == 200
    assert response.headers["azureml-model-deployment"] == "blue"
    assert response.headers["content-type"] == "application/json"
    endpoint = ml_client.online_endpoints.get(ENDPOINT)
    assert endpoint.traffic == {"blue": 100, "green": 0}
    assert endpoint.openapi_uri == uri.removesuffix("score") + "swagger.json"
    blue = ml_client.online_deployments.get("blue", ENDPOINT)
    assert blue.provisioning_state == "Succeeded"
    assert blue.model is not None and str(blue.model).startswith("azureml:")
    logs = ml_client.online_deployments.get_logs("blue", ENDPOINT, lines=50)
    assert "ready (online, score.py)" in logs
    storage = ml_client.online_deployments.get_logs(
        "blue", ENDPOINT, lines=50, container_type="StorageInitializer"
    )
    assert "sklearn_regression_model" not in storage and "prepared" in storage


def test_header_routes_to_a_deployment_without_traffic(
    ml_client: MLClient, sample: Path, http: httpx.Client
) -> None:
    answer = ml_client.online_endpoints.invoke(
        ENDPOINT, request_file=sample, deployment_name="green"
    )
    assert len(json.loads(answer)) == 2
    uri, headers = scoring(ml_client, ENDPOINT)
    response = http.post(
        uri, content=sample.read_bytes(), headers={**headers, "azureml-model-deployment": "nope"}
    )
    assert response.status_code == 404
    assert "has no deployment 'nope'" in response.json()["message"]


def test_blue_green_split_follows_the_weights(
    ml_client: MLClient, sample: Path, http: httpx.Client
) -> None:
    endpoint = ml_client.online_endpoints.get(ENDPOINT)
    endpoint.traffic = {"blue": 90, "green": 10}
    ml_client.online_endpoints.begin_create_or_update(endpoint).result()
    uri, headers = scoring(ml_client, ENDPOINT)
    body = sample.read_bytes()

    def one(_: int) -> str:
        response = http.post(uri, content=body, headers=headers)
        assert response.status_code == 200, response.text
        return response.headers["azureml-model-deployment"]

    with ThreadPoolExecutor(2) as pool:  # the defaults allow 2 in flight (Azure: else 429)
        served = list(pool.map(one, range(1000)))
    green = served.count("green")
    assert served.count("blue") + green == 1000
    assert 60 <= green <= 140, f"green served {green} of 1000 requests, expected about 100"


def test_mirror_copies_a_share_and_hides_its_answers(
    ml_client: MLClient, sample: Path, http: httpx.Client
) -> None:
    endpoint = ml_client.online_endpoints.get(ENDPOINT)
    endpoint.traffic = {"blue": 100, "green": 0}
    endpoint.mirror_traffic = {"green": 20}
    ml_client.online_endpoints.begin_create_or_update(endpoint).result()
    before = metric(http, ml_client, "ferry_online_mirrored_requests_total", deployment="green")
    uri, headers = scoring(ml_client, ENDPOINT)
    body = sample.read_bytes()
    with ThreadPoolExecutor(2) as pool:  # the defaults allow 2 in flight (Azure: else 429)
        served = list(
            pool.map(
                lambda _: http.post(uri, content=body, headers=headers).headers[
                    "azureml-model-deployment"
                ],
                range(300),
            )
        )
    assert set(served) == {"blue"}
    mirrored = metric(http, ml_client, "ferry_online_mirrored_requests_total", deployment="green")
    assert 25 <= mirrored - before <= 100, f"mirrored {mirrored - before} of 300, expected ~60"
    # A request that names its deployment is never mirrored.
    pinned = {**headers, "azureml-model-deployment": "blue"}
    for _ in range(30):
        assert http.post(uri, content=body, headers=pinned).status_code == 200
    after = metric(http, ml_client, "ferry_online_mirrored_requests_total", deployment="green")
    assert after == mirrored
    logs = ml_client.online_deployments.get_logs("green", ENDPOINT, lines=10000)
    assert logs.count("Request processed") >= mirrored - before


def test_regenerated_key_replaces_the_old_one(
    ml_client: MLClient, sample: Path, http: httpx.Client
) -> None:
    uri, _ = scoring(ml_client, ENDPOINT)
    body = sample.read_bytes()
    old = ml_client.online_endpoints.get_keys(ENDPOINT)
    for key in (old.primary_key, old.secondary_key):  # type: ignore[union-attr]
        assert http.post(uri, content=body, headers={"Authorization": f"Bearer {key}"}).is_success
    ml_client.online_endpoints.begin_regenerate_keys(ENDPOINT, key_type="primary").result()
    new = ml_client.online_endpoints.get_keys(ENDPOINT)
    assert new.primary_key != old.primary_key  # type: ignore[union-attr]
    assert new.secondary_key == old.secondary_key  # type: ignore[union-attr]
    stale = http.post(uri, content=body, headers={"Authorization": f"Bearer {old.primary_key}"})  # type: ignore[union-attr]
    assert stale.status_code == 401
    assert "get-credentials --name my-endpoint" in stale.json()["message"]
    fresh = http.post(uri, content=body, headers={"Authorization": f"Bearer {new.primary_key}"})  # type: ignore[union-attr]
    assert fresh.status_code == 200
    assert http.post(uri, content=body).status_code == 401


def test_deleting_a_deployment_with_traffic_is_refused(ml_client: MLClient, sample: Path) -> None:
    from ferry.errors import ConflictError

    with pytest.raises(ConflictError, match="takes 100% of the traffic"):
        ml_client.online_deployments.begin_delete("blue", ENDPOINT)
