"""Azure's online notebook cells (sdk/python/endpoints/online/managed/
online-endpoints-simple-deployment.ipynb), renamed to ``ferry``, on a real server and replica.

The one change from the notebook: the model is registered and fetched with ``models.get``
first, the way most Azure samples go on, and the deployment runs in the server's interpreter.
"""

from __future__ import annotations

import json
from pathlib import Path

from ferry import MLClient
from ferry.entities import (
    CodeConfiguration,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    Model,
)
from tests.online.test_azure_sample import SCORE_PY


def test_online_notebook_with_a_registered_model(
    ml_client: MLClient, examples: Path, tmp_path: Path
) -> None:
    code = tmp_path / "onlinescoring"
    code.mkdir()
    (code / "score.py").write_text(SCORE_PY)
    online_endpoint_name = "endpt-notebook"

    endpoint = ManagedOnlineEndpoint(
        name=online_endpoint_name,
        description="this is a sample endpoint",
        auth_mode="key",
        tags={"foo": "bar"},
    )
    ml_client.online_endpoints.begin_create_or_update(endpoint).result()

    ml_client.models.create_or_update(
        Model(name="sklearn-regression", path=str(examples / "online/model-1/model"))
    )
    model = ml_client.models.get(name="sklearn-regression", label="latest")

    blue_deployment = ManagedOnlineDeployment(
        name="blue",
        endpoint_name=online_endpoint_name,
        model=model,
        environment="ferry:server-python",
        code_configuration=CodeConfiguration(code=str(code), scoring_script="score.py"),
        instance_type="Standard_DS3_v2",
        instance_count=1,
    )
    stored = ml_client.online_deployments.begin_create_or_update(blue_deployment).result(
        timeout=120
    )
    assert (stored.model, stored.provisioning_state) == (
        "azureml:sklearn-regression:1",
        "Succeeded",
    )
    assert [m.version for m in ml_client.models.list(name="sklearn-regression")] == ["1"]

    endpoint.traffic = {"blue": 100}
    ml_client.online_endpoints.begin_create_or_update(endpoint).result()

    answer = ml_client.online_endpoints.invoke(
        endpoint_name=online_endpoint_name,
        deployment_name="blue",
        request_file=str(examples / "online/model-1/sample-request.json"),
    )
    assert isinstance(answer, str) and len(json.loads(answer)) == 2

    # An endpoint from get(), changed and sent back.
    got = ml_client.online_endpoints.get(name=online_endpoint_name)
    assert got.traffic == {"blue": 100} and got.creation_context is not None
    got.description = "changed"
    again = ml_client.online_endpoints.begin_create_or_update(got).result()
    assert (again.description, again.traffic) == ("changed", {"blue": 100})

    logs = ml_client.online_deployments.get_logs(
        name="blue", endpoint_name=online_endpoint_name, lines=50
    )
    assert "Init complete" in logs
