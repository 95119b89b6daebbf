"""A replica proves it belongs to its deployment: a client without the token is refused."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from ferry import MLClient
from tests.batch.forger import FORGER
from tests.online.conftest import deploy, make_endpoint, scoring, write_code

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/cmdline")

SCRIPT = (
    FORGER
    + """

def init():
    forge()

def run(raw):
    return FORGED
"""
)


def test_a_forged_replica_is_refused_and_the_real_one_serves(
    ml_client: MLClient, tmp_path: Path, http: httpx.Client
) -> None:
    code = write_code(tmp_path / "forger", SCRIPT)
    make_endpoint(ml_client, "token-ep")

    # The forger announced the replica's own id while it was in init(): had the gateway taken
    # it, the real replica's ready would be refused and the deployment would not succeed.
    deployment = deploy(ml_client, "token-ep", "main", code)

    assert deployment.provisioning_state == "Succeeded"
    uri, headers = scoring(ml_client, "token-ep")
    answer = http.post(uri, content=b"{}", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"missing": "", "wrong": "", "token_in_environ": False}
