"""What the client is told when ``run()`` returns something JSON cannot hold, on real replicas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferry import MLClient
from tests.online.conftest import deploy, make_endpoint, scoring, write_code

SCRIPT = """
import json

def init():
    pass

def run(raw):
    kind = json.loads(raw)["kind"]
    if kind == "deep":
        nested = []
        for _ in range(100000):
            nested = [nested]
        return nested
    if kind == "cycle":
        loop = {}
        loop["self"] = loop
        return loop
    return {"score": float("nan"), "high": float("-inf"), "ok": 0.5}
"""


@pytest.fixture(scope="module")
def labels(ml_client: MLClient, tmp_path_factory: pytest.TempPathFactory) -> Path:
    code = write_code(tmp_path_factory.mktemp("labels"), SCRIPT)
    make_endpoint(ml_client, "labels-ep")
    deploy(ml_client, "labels-ep", "main", code)
    return code


def _post(http: httpx.Client, ml_client: MLClient, kind: str) -> httpx.Response:
    uri, headers = scoring(ml_client, "labels-ep")
    return http.post(uri, content=json.dumps({"kind": kind}), headers=headers)


@pytest.mark.parametrize(
    ("kind", "type_name", "returned"),
    [("deep", "RecursionError", "list"), ("cycle", "ValueError", "dict")],
)
def test_an_unserialisable_return_value_is_a_model_error(
    ml_client: MLClient,
    labels: Path,
    http: httpx.Client,
    kind: str,
    type_name: str,
    returned: str,
) -> None:
    response = _post(http, ml_client, kind)
    assert response.status_code == 424, response.text
    # Azure's inference server answers 500 for a failure in run(); 400 would blame the client.
    assert response.headers["ms-azureml-model-error-statuscode"] == "500"
    assert response.headers["ms-azureml-model-error-reason"].startswith(f"{type_name}: run() ")
    body = response.json()
    assert body["details"]["where"] == "output"
    assert f"run() returned a {returned} that cannot be serialised to JSON" in body["message"]


def test_nan_in_a_result_is_null(ml_client: MLClient, labels: Path, http: httpx.Client) -> None:
    response = _post(http, ml_client, "nan")
    assert response.status_code == 200

    def refuse(word: str) -> Any:
        raise AssertionError(f"{word} is not JSON")

    assert json.loads(response.text, parse_constant=refuse) == {
        "score": None,
        "high": None,
        "ok": 0.5,
    }
