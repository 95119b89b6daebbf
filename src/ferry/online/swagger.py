"""``/swagger.json`` of an endpoint: built from the scoring script's inference-schema decorators.

The schemas live in the user's environment, so they are read by importing the script once in a
short-lived process with the deployment's interpreter (``init()`` is not called) and cached per
running deployment. Undecorated scripts have no swagger document, as on azmlinfsrv.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from ferry.online.errors import GatewayError
from ferry.online.plan import LaunchPlan
from ferry.runtime.launch import worker_env

__all__ = ["read_schemas", "swagger_document", "swagger_version"]

_PROBE = str(Path(__file__).with_name("_schema_probe.py"))
_MARK = "@@FERRY-SCHEMA@@"


def swagger_version(query: str) -> str:
    """``?version=2|3`` (default 2, as azmlinfsrv); 404 for others."""
    version = (parse_qs(query).get("version") or ["2"])[0]
    if version not in ("2", "3"):
        raise GatewayError(
            404,
            "not_found",
            f"swagger version {version!r} is not served; use ?version=2 (default) or ?version=3.",
        )
    return version


def read_schemas(plan: LaunchPlan, timeout_s: float = 120.0) -> dict[str, Any]:
    """Import the script in its environment and return its schemas (blocking)."""
    try:
        done = subprocess.run(
            [plan.python, _PROBE, plan.entry_script, plan.code_dir],
            cwd=plan.code_dir,
            env=worker_env(
                {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}, plan.env
            ),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GatewayError(
            500, "swagger_failed", f"could not read the script's schemas: {exc}"
        ) from exc
    marker = done.stdout.rfind(_MARK)
    if done.returncode != 0 or marker < 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise GatewayError(
            500,
            "swagger_failed",
            f"importing the scoring script to read its schemas failed: {tail or done.returncode}",
        )
    result: dict[str, Any] = json.loads(done.stdout[marker + len(_MARK) :])
    return result


def swagger_document(
    schemas: dict[str, Any], *, endpoint: str, deployment: str, version: str
) -> dict[str, Any]:
    """A Swagger 2.0 (or OpenAPI 3) document for ``POST /score``, like azmlinfsrv's."""
    if not schemas.get("decorated"):
        raise GatewayError(
            404,
            "swagger_not_found",
            f"deployment {deployment!r} has no swagger document: its run() has no "
            "@input_schema/@output_schema decorators (package inference-schema); add them to "
            "describe the API.",
        )
    supported = [str(v)[0] for v in schemas.get("versions") or []]
    if supported and version not in supported:
        raise GatewayError(404, "not_found", f"the script's schemas support versions {supported}")
    inputs, outputs = schemas.get("input") or {}, schemas.get("output") or {}
    title = f"{endpoint}/{deployment}"
    if version == "3":
        ref = "#/components/schemas/"
        return {
            "openapi": "3.0.1",
            "info": {"title": title, "version": "1.0"},
            "paths": _paths(ref, openapi3=True),
            "components": {"schemas": {"ServiceInput": inputs, "ServiceOutput": outputs}},
        }
    return {
        "swagger": "2.0",
        "info": {"title": title, "description": "API specification", "version": "1.0"},
        "schemes": ["https", "http"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {
            "Bearer": {"type": "apiKey", "name": "Authorization", "in": "header"}
        },
        "paths": _paths("#/definitions/", openapi3=False),
        "definitions": {"ServiceInput": inputs, "ServiceOutput": outputs},
    }


def _paths(ref: str, *, openapi3: bool) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "Success"}
    if openapi3:
        ok["content"] = {"application/json": {"schema": {"$ref": ref + "ServiceOutput"}}}
        body: dict[str, Any] = {
            "requestBody": {
                "content": {"application/json": {"schema": {"$ref": ref + "ServiceInput"}}}
            }
        }
    else:
        ok["schema"] = {"$ref": ref + "ServiceOutput"}
        body = {
            "parameters": [
                {
                    "name": "serviceInputPayload",
                    "in": "body",
                    "required": True,
                    "schema": {"$ref": ref + "ServiceInput"},
                }
            ]
        }
    failure = {"description": "The scoring script failed (see ms-azureml-model-error-* headers)"}
    return {
        "/score": {
            "post": {
                "description": "Run web service's model and get the prediction output",
                "security": [{"Bearer": []}],
                **body,
                "responses": {"200": ok, "424": failure},
            }
        }
    }
