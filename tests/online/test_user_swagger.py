"""A swagger file in the code folder is the deployment's document, as on azmlinfsrv."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from ferry import MLClient
from ferry.errors import FerryError
from tests.online.conftest import deploy, make_endpoint, scoring, write_code

PLAIN = "def init():\n    pass\n\ndef run(raw):\n    return raw\n"

SWAGGER2 = {
    "swagger": "2.0",
    "info": {"title": "heart", "version": "7"},
    "paths": {"/score": {"post": {"responses": {"200": {"description": "my own"}}}}},
}
SWAGGER3 = {"openapi": "3.0.1", "info": {"title": "heart v3", "version": "7"}, "paths": {}}


def test_user_swagger_files_are_served(
    ml_client: MLClient, tmp_path: Path, http: httpx.Client
) -> None:
    code = write_code(tmp_path, PLAIN)
    (code / "swagger2.json").write_text(json.dumps(SWAGGER2), encoding="utf-8")
    (code / "swagger3.json").write_text(json.dumps(SWAGGER3), encoding="utf-8")
    make_endpoint(ml_client, "own-swagger-ep")
    deploy(ml_client, "own-swagger-ep", "main", code)
    uri, headers = scoring(ml_client, "own-swagger-ep")
    swagger = uri.removesuffix("score") + "swagger.json"
    assert http.get(swagger, headers=headers).json() == SWAGGER2
    assert http.get(swagger, params={"version": "2.0"}, headers=headers).json() == SWAGGER2
    assert http.get(swagger, params={"version": "3"}, headers=headers).json() == SWAGGER3
    missing = http.get(swagger, params={"version": "3.1"}, headers=headers)
    assert missing.status_code == 404
    assert "put swagger3.1.json in the code folder" in missing.json()["message"]
    assert http.get(swagger).status_code == 401  # the key is still needed
    # the scoring path is unchanged
    assert http.post(uri, content=b'"hi"', headers=headers).json() == '"hi"'
    notices = ml_client.online_deployments.get("main", "own-swagger-ep").notices
    assert "swagger version 2: serving swagger2.json from the code folder" in notices, notices
    assert "swagger version 3: serving swagger3.json from the code folder" in notices, notices


def test_swagger_json_comes_before_swagger2(
    ml_client: MLClient, tmp_path: Path, http: httpx.Client
) -> None:
    code = write_code(tmp_path, PLAIN)
    (code / "swagger.json").write_text(json.dumps({"swagger": "2.0", "x": 1}), encoding="utf-8")
    (code / "swagger2.json").write_text(json.dumps(SWAGGER2), encoding="utf-8")
    make_endpoint(ml_client, "swagger-order-ep")
    deploy(ml_client, "swagger-order-ep", "main", code)
    uri, headers = scoring(ml_client, "swagger-order-ep")
    document = http.get(uri.removesuffix("score") + "swagger.json", headers=headers).json()
    assert document == {"swagger": "2.0", "x": 1}


def test_broken_swagger_file_fails_the_deployment(ml_client: MLClient, tmp_path: Path) -> None:
    code = write_code(tmp_path, PLAIN)
    (code / "swagger3.json").write_text("{not json", encoding="utf-8")
    make_endpoint(ml_client, "bad-swagger-ep")
    with pytest.raises(FerryError) as caught:
        deploy(ml_client, "bad-swagger-ep", "main", code)
    message = caught.value.message
    assert "swagger3.json in the deployment's code folder is not valid JSON" in message
    assert "fix it" in message and "or remove it" in message
