"""A no-code online deployment of Azure's heart-classifier MLflow model, through a real server.

The deployment names only the model: Ferry builds the environment from the model's conda.yaml
(as the batch test of the same model does; a real uv environment, cached across runs) and serves
it with its built-in MLflow scorer, whose swagger document comes from the MLmodel signature.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from ferry import ManagedOnlineDeployment, MLClient, Model
from ferry.errors import FerryError
from ferry.local_workspace.launcher import stop_server
from ferry.settings import Settings
from ferry.specs.loader import load_spec
from ferry.specs.online import OnlineDeploymentSpec
from tests.online.conftest import make_endpoint, scoring, write_code

pytestmark = pytest.mark.slow

HEART = "batch/deploy-models/heart-classifier-mlflow"
ENDPOINT = "heart-online"


@pytest.fixture(scope="module")
def heart(
    tmp_path_factory: pytest.TempPathFactory, examples: Path
) -> Iterator[tuple[MLClient, pd.DataFrame]]:
    """The model registered and deployed once with no code and no environment."""
    settings = Settings(workspace=tmp_path_factory.mktemp("heart-online"))
    client = MLClient(settings=settings)
    base = examples / HEART
    client.models.create_or_update(
        Model(
            name="heart-classifier-mlflow",
            path=str(base / "deployment-simple/model"),
            type="mlflow_model",
        )
    )
    make_endpoint(client, ENDPOINT)
    deployment = ManagedOnlineDeployment(
        name="no-code",
        endpoint_name=ENDPOINT,
        model="azureml:heart-classifier-mlflow@latest",
        instance_count=1,
    )
    done = client.online_deployments.begin_create_or_update(deployment, all_traffic=True)
    shown = done.result(timeout=1200)
    assert shown.provisioning_state == "Succeeded", shown.error
    rows = pd.read_csv(base / "data" / "heart-unlabeled-0.csv").head(5)
    yield client, rows
    client.close()
    stop_server(settings)


def _score(client: MLClient, body: object) -> httpx.Response:
    uri, headers = scoring(client, ENDPOINT)
    return httpx.post(uri, content=json.dumps(body), headers=headers, timeout=60)


def _records(rows: pd.DataFrame) -> list[dict[str, object]]:
    return json.loads(rows.to_json(orient="records"))  # type: ignore[no-any-return]


def _split(rows: pd.DataFrame) -> dict[str, object]:
    return json.loads(rows.to_json(orient="split"))  # type: ignore[no-any-return]


def test_azure_input_data_gets_a_list_of_predictions(
    heart: tuple[MLClient, pd.DataFrame],
) -> None:
    client, rows = heart
    # Azure's sample request shape for MLflow models: pandas' split orient under input_data.
    response = _score(client, {"input_data": _split(rows)})
    assert response.status_code == 200, response.text
    predictions = response.json()
    assert isinstance(predictions, list) and len(predictions) == len(rows)
    assert set(predictions) <= {0, 1}
    notices = client.online_deployments.get("no-code", ENDPOINT).notices
    assert "no scoring script: using Ferry's built-in MLflow scorer" in notices, notices
    assert "no environment: built from the MLflow model's own requirements" in notices
    print("\nnotices:", *notices, sep="\n  ")


def test_mlflow_formats_get_predictions(heart: tuple[MLClient, pd.DataFrame]) -> None:
    client, rows = heart
    expected = _score(client, {"input_data": _split(rows)}).json()
    columns = {name: rows[name].tolist() for name in rows.columns}
    split = _split(rows)
    for body in (
        {"dataframe_split": split},
        {"dataframe_records": _records(rows)},
        {"instances": _records(rows)},
        {"inputs": columns},
        {"inputs": split["data"]},  # rows without names: the signature's columns
        {"input_data": {"data": split["data"]}},
    ):
        response = _score(client, body)
        assert response.status_code == 200, (next(iter(body)), response.text)
        answer = response.json()
        got = answer if next(iter(body)) == "input_data" else answer["predictions"]
        assert got == expected, body


def test_bad_input_is_400_with_the_reason(heart: tuple[MLClient, pd.DataFrame]) -> None:
    client, rows = heart
    response = _score(client, {"rows": _records(rows)})
    assert response.status_code == 400
    assert "exactly one of input_data, dataframe_split" in response.json()["message"]
    response = _score(client, {"dataframe_records": [{"age": 1}]})
    assert response.status_code == 400
    assert "lacks column(s) sex, cp" in response.json()["message"]


def test_swagger_comes_from_the_signature(heart: tuple[MLClient, pd.DataFrame]) -> None:
    client, _ = heart
    uri, headers = scoring(client, ENDPOINT)
    document = httpx.get(uri.removesuffix("score") + "swagger.json", headers=headers).json()
    assert document["swagger"] == "2.0"
    row = document["definitions"]["ServiceInput"]["properties"]["dataframe_records"]["items"]
    assert row["properties"]["thal"] == {"type": "string"}
    assert row["properties"]["age"] == {"type": "integer", "format": "int64"}


def test_no_code_needs_an_mlflow_model(
    heart: tuple[MLClient, pd.DataFrame], examples: Path, tmp_path: Path
) -> None:
    client, _ = heart
    custom = client.models.create_or_update(
        Model(
            name="heart-as-custom",
            path=str(examples / HEART / "deployment-simple/model"),
            type="custom_model",
        )
    )
    with pytest.raises(FerryError, match="unless its model is an mlflow_model"):
        client.online_deployments.begin_create_or_update(
            ManagedOnlineDeployment(
                name="custom-no-code",
                endpoint_name=ENDPOINT,
                model=f"azureml:{custom.name}:{custom.version}",
            )
        )
    code = write_code(tmp_path, "def init():\n    pass\n\ndef run(raw):\n    return raw\n")
    with pytest.raises(FerryError, match="with code_configuration needs an environment"):
        client.online_deployments.begin_create_or_update(
            ManagedOnlineDeployment(
                name="code-no-env",
                endpoint_name=ENDPOINT,
                model="azureml:heart-classifier-mlflow@latest",
                code_configuration={"code": str(code), "scoring_script": "score.py"},
            )
        )


def test_azure_ncd_yaml_with_an_inline_model(
    heart: tuple[MLClient, pd.DataFrame], examples: Path, tmp_path: Path
) -> None:
    """Azure's ncd/sklearn-deployment.yaml shape: an inline mlflow_model and nothing else."""
    client, rows = heart
    model = examples / HEART / "deployment-simple/model"
    yml = tmp_path / "deployment.yml"
    yml.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json\n"
        f"name: ncd\nendpoint_name: {ENDPOINT}\n"
        f"model:\n  name: heart-ncd\n  version: 1\n  path: {model}\n  type: mlflow_model\n"
        "instance_type: Standard_DS3_v2\ninstance_count: 1\n",
        encoding="utf-8",
    )
    deployment = load_spec(OnlineDeploymentSpec, yml)
    shown = client.online_deployments.begin_create_or_update(deployment).result(timeout=1200)
    assert shown.provisioning_state == "Succeeded", shown.error
    request = tmp_path / "sample-request.json"
    request.write_text(json.dumps({"input_data": _split(rows)}), encoding="utf-8")
    answer = client.online_endpoints.invoke(
        ENDPOINT, request_file=str(request), deployment_name="ncd"
    )
    assert isinstance(answer, str)
    assert json.loads(answer) == _score(client, {"input_data": _split(rows)}).json()
