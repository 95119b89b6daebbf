"""``ferry online-endpoint|online-deployment`` against a real server and real replicas.

The deployments use Azure's model-1 sample model inline (``model: {path: ...}``), an Azure-style
``score.py`` and ``environment: ferry:server-python`` (the development option that runs the
replicas in the server's interpreter), so no virtualenv is built here.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import Ferry
from tests.conftest import EXAMPLES

MODEL = EXAMPLES / "online" / "model-1" / "model"
REQUEST = EXAMPLES / "online" / "model-1" / "sample-request.json"
ENDPOINT = "cli-online-ep"

SCORE_PY = """\
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
    data = numpy.array(json.loads(raw_data)["data"])
    return model.predict(data).tolist()
"""

BROKEN_PY = """\
def load_weights(path):
    raise FileNotFoundError(f"no weights at {path}")


def init():
    load_weights("/nowhere/weights.bin")


def run(raw_data):
    return raw_data
"""

ENDPOINT_YML = f"""\
$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json
name: {ENDPOINT}
auth_mode: key
"""

DEPLOYMENT_YML = f"""\
$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
name: blue
endpoint_name: {ENDPOINT}
model:
  path: {MODEL}
code_configuration:
  code: onlinescoring
  scoring_script: score.py
environment: ferry:server-python
instance_type: Standard_DS3_v2
instance_count: 1
"""


@pytest.fixture(scope="module")
def project(ferry: Ferry, examples: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The endpoint, and ``blue`` taking all its traffic, created from YAML files."""
    folder = tmp_path_factory.mktemp("online-project")
    (folder / "onlinescoring").mkdir()
    (folder / "onlinescoring" / "score.py").write_text(SCORE_PY, encoding="utf-8")
    (folder / "onlinescoring" / "broken.py").write_text(BROKEN_PY, encoding="utf-8")
    (folder / "endpoint.yml").write_text(ENDPOINT_YML, encoding="utf-8")
    (folder / "blue-deployment.yml").write_text(DEPLOYMENT_YML, encoding="utf-8")
    made = ferry.json("online-endpoint", "create", "-f", folder / "endpoint.yml")
    assert (made["name"], made["auth_mode"], made["traffic"]) == (ENDPOINT, "key", {})
    blue = ferry.json(
        "online-deployment", "create", "-f", folder / "blue-deployment.yml", "--all-traffic"
    )
    assert blue["provisioning_state"] == "Succeeded"
    assert len(blue["replicas"]) == 1
    assert blue["model"].startswith("azureml:")  # the inline model folder was registered
    return folder


def _predictions(text: str) -> list[float]:
    return [round(x, 2) for x in json.loads(text)]


def test_invoke_and_call_with_the_key(ferry: Ferry, project: Path) -> None:
    out = ferry("online-endpoint", "invoke", "--name", ENDPOINT, "--request-file", REQUEST).stdout
    assert _predictions(out) == [11055.98, 4503.08]
    assert out.startswith("[\n  11055.")  # JSON answers are printed indented
    assert ferry.json("online-endpoint", "show", "-n", ENDPOINT, "--query", "traffic") == {
        "blue": 100
    }
    # The curl recipe of the help: scoring_uri as tsv, the key from get-credentials.
    uri = ferry("online-endpoint", "show", "-n", ENDPOINT, "--query", "scoring_uri", "-o", "tsv")
    keys = ferry.json("online-endpoint", "get-credentials", "--name", ENDPOINT)
    assert sorted(keys) == ["primaryKey", "secondaryKey"]
    response = httpx.post(
        uri.stdout.strip(),
        content=REQUEST.read_bytes(),
        headers={
            "Authorization": f"Bearer {keys['secondaryKey']}",
            "Content-Type": "application/json",
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert _predictions(response.text) == [11055.98, 4503.08]
    assert ENDPOINT in ferry.json("online-endpoint", "list", "--query", "[].name")


def test_regenerated_key_replaces_the_old_one(ferry: Ferry, project: Path) -> None:
    old = ferry.json("online-endpoint", "get-credentials", "-n", ENDPOINT)
    ferry("online-endpoint", "regenerate-keys", "-n", ENDPOINT, "--key-type", "primary")
    new = ferry.json("online-endpoint", "get-credentials", "-n", ENDPOINT)
    assert new["primaryKey"] != old["primaryKey"]
    assert new["secondaryKey"] == old["secondaryKey"]
    uri = ferry.json("online-endpoint", "show", "-n", ENDPOINT, "--query", "scoring_uri")

    def call(key: str) -> int:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        return httpx.post(
            uri, content=REQUEST.read_bytes(), headers=headers, timeout=30
        ).status_code

    assert call(old["primaryKey"]) == 401
    assert call(new["primaryKey"]) == 200


def test_blue_green_traffic(ferry: Ferry, project: Path) -> None:
    green = ferry.json(
        "online-deployment",
        "create",
        "-f",
        project / "blue-deployment.yml",
        "--name",
        "green",
        "--set",
        "description=second",
    )
    assert (green["name"], green["description"]) == ("green", "second")
    listed = ferry("online-deployment", "list", "-e", ENDPOINT, "--query", "[].name", "-o", "tsv")
    assert sorted(listed.stdout.split()) == ["blue", "green"]
    assert ferry.json("online-endpoint", "show", "-n", ENDPOINT, "--query", "traffic") == {
        "blue": 100,
        "green": 0,
    }
    updated = ferry.json(
        "online-endpoint", "update", "-n", ENDPOINT, "--traffic", "blue=50 green=50"
    )
    assert updated["traffic"] == {"blue": 50, "green": 50}
    assert ferry.json("online-endpoint", "show", "-n", ENDPOINT, "--query", "traffic") == {
        "blue": 50,
        "green": 50,
    }
    # az's --set form changes entries of the current split.
    ferry(
        "online-endpoint", "update", "-n", ENDPOINT, "--set", "traffic.blue=100", "traffic.green=0"
    )
    mirrored = ferry.json(
        "online-endpoint", "update", "-n", ENDPOINT, "--mirror-traffic", "green=10"
    )
    assert (mirrored["traffic"], mirrored["mirror_traffic"]) == (
        {"blue": 100, "green": 0},
        {"green": 10},
    )
    # Naming a deployment bypasses the split.
    out = ferry("online-endpoint", "invoke", "-n", ENDPOINT, "-r", REQUEST, "-d", "green")
    assert _predictions(out.stdout) == [11055.98, 4503.08]


def test_traffic_must_add_up_to_100(ferry: Ferry, project: Path) -> None:
    # Unquoted words are taken too (--traffic blue=60 green=30).
    result = ferry(
        "online-endpoint", "update", "-n", ENDPOINT, "--traffic", "blue=60", "green=30", expect=1
    )
    assert "traffic percentages add up to 90 (blue=60, green=30)" in result.stderr
    assert "must add up to 100" in result.stderr
    result = ferry("online-endpoint", "update", "-n", ENDPOINT, "--traffic", "blue", expect=1)
    assert "--traffic 'blue' is not <deployment>=<percent>" in result.stderr


def test_get_logs(ferry: Ferry, project: Path) -> None:
    logs = ferry("online-deployment", "get-logs", "-n", "blue", "-e", ENDPOINT, "--lines", "50")
    assert "Init complete" in logs.stdout
    assert "ready (online, score.py)" in logs.stdout
    short = ferry("online-deployment", "get-logs", "-n", "blue", "-e", ENDPOINT, "--lines", "2")
    assert len(short.stdout.splitlines()) < len(logs.stdout.splitlines())
    storage = ferry(
        "online-deployment", "get-logs", "-n", "blue", "-e", ENDPOINT, "-c", "storage-initializer"
    )
    assert "prepared; starting replicas" in storage.stdout


def test_failing_init_exits_1_with_the_traceback(ferry: Ferry, project: Path) -> None:
    result = ferry(
        "online-deployment",
        "create",
        "-f",
        project / "blue-deployment.yml",
        "--name",
        "broken",
        "--set",
        "code_configuration.scoring_script=broken.py",
        expect=1,
    )
    assert result.stderr.startswith("ERROR: deployment 'broken' failed: replica broken-0 failed")
    assert "Traceback (most recent call last)" in result.stderr
    assert 'raise FileNotFoundError(f"no weights at {path}")' in result.stderr
    assert "FileNotFoundError: no weights at /nowhere/weights.bin" in result.stderr
    assert f"ferry online-deployment get-logs --name broken --endpoint-name {ENDPOINT}" in (
        result.stderr
    )
    shown = ferry.json("online-deployment", "show", "-n", "broken", "-e", ENDPOINT)
    assert shown["provisioning_state"] == "Failed"
    # Scoring it is an HTTP error: exit 1 with the status and the gateway's message.
    result = ferry(
        "online-endpoint", "invoke", "-n", ENDPOINT, "-r", REQUEST, "-d", "nope", expect=1
    )
    assert result.stderr.startswith("ERROR: HTTP 404: ")
    assert "'nope'" in result.stderr
    ferry("online-deployment", "delete", "-n", "broken", "-e", ENDPOINT, "--yes")
    ferry("online-deployment", "show", "-n", "broken", "-e", ENDPOINT, expect=1)


def test_bad_names_and_missing_deployments(ferry: Ferry, project: Path) -> None:
    result = ferry("online-endpoint", "create", "--name", "9-lives", expect=1)
    assert "name '9-lives' is not a valid endpoint name" in result.stderr
    assert "regex [a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?" in result.stderr
    result = ferry(
        "online-deployment",
        "create",
        "-f",
        project / "blue-deployment.yml",
        "--name",
        "b",
        expect=1,
    )
    assert "name 'b' has 1 characters; use 3-32 letters" in result.stderr
    # update changes a deployment; it never creates one.
    result = ferry(
        "online-deployment",
        "update",
        "-f",
        project / "blue-deployment.yml",
        "--name",
        "ghost",
        expect=1,
    )
    assert f"online deployment 'ghost' of endpoint '{ENDPOINT}' does not exist" in result.stderr


def test_token_endpoint_credentials_and_delete(ferry: Ferry) -> None:
    ferry("online-endpoint", "create", "--name", "cli-token-ep", "--auth-mode", "aml_token")
    token = ferry.json("online-endpoint", "get-credentials", "-n", "cli-token-ep")
    assert sorted(token) == ["accessToken", "expiryTimeUtc", "refreshAfterTimeUtc", "tokenType"]
    assert token["tokenType"] == "Bearer"
    result = ferry("online-endpoint", "regenerate-keys", "-n", "cli-token-ep", expect=1)
    assert "uses aml_token auth" in result.stderr
    ferry("online-endpoint", "delete", "-n", "cli-token-ep", input="n\n", expect=1)
    ferry("online-endpoint", "delete", "-n", "cli-token-ep", "--yes")
    result = ferry("online-endpoint", "show", "-n", "cli-token-ep", expect=1)
    assert "cli-token-ep" in result.stderr
