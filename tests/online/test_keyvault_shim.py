"""An online deployment's script reads the secrets its deployment grants through the v1
``azureml.core`` Key Vault shim, as a batch one does; any other name is refused."""

from __future__ import annotations

from pathlib import Path

import httpx

from ferry import MLClient
from tests.online.conftest import deploy, make_endpoint, scoring, write_code

SCORE = """
from azureml.core import Run


def init():
    global key
    key = Run.get_context().experiment.workspace.get_default_keyvault().get_secret("online-key")


def run(raw_data):
    try:
        Run.get_context().get_secret("not-granted")
    except PermissionError as exc:
        refused = str(exc)
    return {"key": key, "refused": refused}
"""


def test_granted_secret_read_and_another_refused(
    ml_client: MLClient, http: httpx.Client, tmp_path: Path
) -> None:
    ml_client.secrets.set("online-key", "k-789")
    ml_client.secrets.set("not-granted", "must-not-leak")
    make_endpoint(ml_client, "kv-online")
    deploy(
        ml_client,
        "kv-online",
        "blue",
        write_code(tmp_path / "code", SCORE),
        properties={"ferry_secrets": ["online-key"]},
    )
    uri, headers = scoring(ml_client, "kv-online")
    answer = http.post(uri, json={"data": []}, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["key"] == "k-789"
    assert (
        "secret 'not-granted' is not granted to this deployment (it may read: online-key)"
        in (body["refused"])
    )
    assert (
        "`ferry online-deployment update --endpoint-name kv-online --name blue --set "
        "properties.ferry_secrets=online-key,not-granted`" in body["refused"]
    )
