"""Bad specs and failing deployments get errors that name the field and the fix."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ferry import Environment, MLClient
from ferry.errors import FerryError, NotFoundError, SpecError
from ferry.specs.loader import load_spec
from ferry.specs.online import OnlineDeploymentSpec, OnlineEndpointSpec
from tests.online.conftest import SERVER_PYTHON, deploy, make_endpoint, write_code


def _post(ml_client: MLClient, body: dict[str, object]) -> httpx.Response:
    token = ml_client._transport._http.headers["Authorization"]
    return httpx.post(
        ml_client.server_url + "/api/v1/online-endpoints",
        json=body,
        headers={"Authorization": token},
    )


def test_bad_yaml_and_unknown_fields_are_named(tmp_path: Path) -> None:
    broken = tmp_path / "endpoint.yml"
    broken.write_text("name: my-ep\nauth_mode: [key\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"is not valid YAML at line \d+"):
        load_spec(OnlineEndpointSpec, broken)
    unknown = tmp_path / "deployment.yml"
    unknown.write_text("name: blue\nendpoint_name: my-ep\ninstance_cout: 2\n", encoding="utf-8")
    with pytest.raises(
        SpecError, match=r"unknown field 'instance_cout': did you mean 'instance_count'\?"
    ):
        load_spec(OnlineDeploymentSpec, unknown)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"name": "x"}, 422, "name 'x' has 1 characters; use 3-32 letters"),
        ({"name": "1-endpoint"}, 422, "is not a valid endpoint name"),
        ({"name": "bad-"}, 422, "not ending with '-'"),
        ({"name": "my-ep", "colour": "red"}, 422, "unknown field 'colour'"),
        (
            {"name": "my-ep", "traffic": {"blue": 50, "green": 20}},
            422,
            "traffic percentages add up to 70 (blue=50, green=20); they must add up to 100",
        ),
        (
            {"name": "my-ep", "mirror_traffic": {"blue": 10, "green": 10}},
            422,
            "mirror to one deployment only",
        ),
        ({"name": "my-ep", "mirror_traffic": {"green": 60}}, 422, "is 60; use 0-50"),
        ({"name": "my-ep", "auth_mode": "aad_token"}, 422, "use auth_mode: key or aml_token"),
        (
            {"name": "new-ep", "traffic": {"blue": 100}},
            404,
            "names deployment 'blue', which endpoint 'new-ep' does not have",
        ),
    ],
)
def test_bad_endpoints_are_refused(
    ml_client: MLClient, body: dict[str, object], status: int, message: str
) -> None:
    response = _post(ml_client, body)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]


def test_azure_fields_that_mean_nothing_here_are_accepted(ml_client: MLClient) -> None:
    response = _post(
        ml_client,
        {
            "$schema": "https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json",
            "name": "accepting-ep",
            "auth_mode": "key",
            "identity": {"type": "system_assigned"},
            "public_network_access": "disabled",
            "tags": {"team": "a"},
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["scoring_uri"].endswith("/endpoints/accepting-ep/score")


def test_init_failure_fails_the_deployment_with_its_traceback(
    ml_client: MLClient, tmp_path: Path
) -> None:
    make_endpoint(ml_client, "failing-ep")
    code = write_code(
        tmp_path,
        """
        import os

        def load_weights(path):
            raise FileNotFoundError(f"no weights at {path}")

        def init():
            load_weights(os.path.join(os.environ.get("AZUREML_MODEL_DIR", "/nowhere"), "w.bin"))

        def run(data):
            return data
        """,
    )
    with pytest.raises(FerryError) as caught:
        deploy(ml_client, "failing-ep", "broken", code, all_traffic=True)
    message = caught.value.message
    assert "replica broken-0 failed in init(): FileNotFoundError: no weights at" in message
    assert "Traceback (most recent call last)" in message
    assert 'in load_weights\n    raise FileNotFoundError(f"no weights at {path}")' in message
    shown = ml_client.online_deployments.get("broken", "failing-ep")
    assert shown.provisioning_state == "Failed"
    assert shown.error is not None and "Traceback" in shown.error
    # --all-traffic moves the split only once a deployment is ready: this one never was.
    assert ml_client.online_endpoints.get("failing-ep").traffic == {"broken": 0}
    logs = ml_client.online_deployments.get_logs("broken", "failing-ep", lines=200)
    assert "FileNotFoundError: no weights at" in logs


def test_deployment_errors_name_the_field(ml_client: MLClient, tmp_path: Path) -> None:
    make_endpoint(ml_client, "field-ep")
    code = write_code(tmp_path, "def init():\n    pass\n\ndef run(data):\n    return data\n")
    with pytest.raises(NotFoundError, match=r"scoring_script 'missing\.py' is not in the code"):
        deploy(
            ml_client,
            "field-ep",
            "nocode",
            code,
            code_configuration={"code": str(code), "scoring_script": "missing.py"},
        )
    with pytest.raises(NotFoundError, match="online endpoint 'no-such-ep' does not exist"):
        deploy(ml_client, "no-such-ep", "blue", code)
    # The SDK constructor raises Ferry's SpecError, worded as the CLI's messages.
    with pytest.raises(SpecError, match="invalid OnlineDeployment: field 'name': name 'x1' has 2"):
        deploy(ml_client, "field-ep", "x1", code)
    with pytest.raises(FerryError, match="needs an environment"):
        deploy(ml_client, "field-ep", "noenv", code, environment=None)
    deployment = deploy(ml_client, "field-ep", "ok-dep", code, environment=SERVER_PYTHON)
    assert deployment.provisioning_state == "Succeeded"


def test_inline_environment_is_built_and_used(
    ml_client: MLClient, tmp_path: Path, http: httpx.Client
) -> None:
    make_endpoint(ml_client, "env-ep")
    code = write_code(
        tmp_path / "src",
        "import sys\n\ndef init():\n    pass\n\ndef run(raw):\n    return sys.executable\n",
    )
    conda = tmp_path / "conda.yaml"
    conda.write_text("name: tiny\ndependencies:\n  - python=3.11\n  - pip\n", encoding="utf-8")
    environment = Environment(name="tiny-env", conda_file=str(conda), image="ubuntu:22.04")
    deployment = deploy(ml_client, "env-ep", "built", code, environment=environment, timeout=300)
    assert str(deployment.environment).startswith("azureml:tiny-env:")
    assert any("base image 'ubuntu:22.04' is not used" in n for n in deployment.notices)
    python = ml_client.online_endpoints.invoke("env-ep", body={})
    assert "/envs/" in python and python.endswith('/bin/python"')
    storage = ml_client.online_deployments.get_logs(
        "built", "env-ep", container_type="StorageInitializer"
    )
    assert "ferry: built in" in storage or "reused" in storage
