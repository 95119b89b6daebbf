"""A binary (PNG) answer reaches the caller byte for byte: SDK invoke, CLI --output-file."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ferry import MLClient
from tests.cli.conftest import make_ferry
from tests.online.conftest import deploy, make_endpoint, write_code
from tests.png_bytes import png_bytes

# Sends back the PNG the request carries, so the test knows every byte the answer must have.
ECHO_PNG = """
import base64
import json

from azureml.contrib.services.aml_response import AMLResponse


def init():
    pass


def run(raw):
    data = json.loads(raw)
    if "text" in data:
        return {"echo": data["text"]}
    return AMLResponse(base64.b64decode(data["png_b64"]), 200, {"Content-Type": "image/png"})
"""

ENDPOINT = "png-answer"


@pytest.fixture(scope="module")
def png_endpoint(ml_client: MLClient, tmp_path_factory: pytest.TempPathFactory) -> str:
    make_endpoint(ml_client, ENDPOINT)
    deploy(ml_client, ENDPOINT, "echo", write_code(tmp_path_factory.mktemp("code"), ECHO_PNG))
    return ENDPOINT


def _request(tmp_path: Path, png: bytes) -> Path:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"png_b64": base64.b64encode(png).decode()}))
    return request


def test_sdk_invoke_returns_the_png_as_bytes(
    ml_client: MLClient, png_endpoint: str, tmp_path: Path
) -> None:
    png = png_bytes()
    answer = ml_client.online_endpoints.invoke(png_endpoint, request_file=_request(tmp_path, png))
    assert isinstance(answer, bytes)
    assert answer == png
    # A JSON answer stays text, as Azure's invoke returns it.
    text = ml_client.online_endpoints.invoke(png_endpoint, body={"text": "hi"})
    assert isinstance(text, str) and json.loads(text) == {"echo": "hi"}


def test_cli_output_file_writes_the_bytes_untouched(
    ml_client: MLClient, png_endpoint: str, tmp_path: Path
) -> None:
    png = png_bytes(16, 16)
    ferry = make_ferry(ml_client.settings.resolved_workspace)
    out = tmp_path / "out.png"
    args = ("-n", png_endpoint, "-r", _request(tmp_path, png))
    result = ferry("online-endpoint", "invoke", *args, "--output-file", out)
    assert out.read_bytes() == png
    assert f"wrote {len(png)} bytes (image/png) to {out}" in result.stderr
    assert result.stdout == ""

    # Without --output-file, stdout that is not a terminal gets the same bytes.
    command = [sys.executable, "-m", "ferry.cli.main", "online-endpoint", "invoke", *map(str, args)]
    piped = subprocess.run(command, capture_output=True, env=ferry.env, timeout=120, check=True)
    assert piped.stdout == png
