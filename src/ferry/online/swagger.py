"""``/swagger.json`` of an endpoint: the user's own file, or built from the script's decorators.

As azmlinfsrv does, a document the user put in the code folder (``AML_APP_ROOT``) is served as
is: ``swagger.json`` or ``swagger2.json`` for version 2, ``swagger3.json`` for 3 and
``swagger3.1.json`` for 3.1. Otherwise the document is built from the inference-schema
decorators of ``run()``. Those schemas live in the user's environment, so they are read by
importing the script once in a short-lived process with the deployment's interpreter
(``init()`` is not called) and cached per running deployment. An undecorated script with no
file for the version asked has no swagger document (404), as on azmlinfsrv.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from ferry.errors import ErrorCode, GatewayError
from ferry.workers.environ import worker_environ
from ferry.workers.spec import WorkerSpec

__all__ = [
    "USER_SWAGGER_FILES",
    "read_schemas",
    "swagger_document",
    "swagger_version",
    "user_swagger",
]

_PROBE = str(Path(__file__).with_name("_schema_probe.py"))
_MARK = "@@FERRY-SCHEMA@@"
# azmlinfsrv's version aliases, and the user files it looks for per version, in order.
_VERSIONS = {"2": "2", "2.0": "2", "3": "3", "3.0": "3", "3.1": "3.1"}
USER_SWAGGER_FILES = {
    "2": ("swagger.json", "swagger2.json"),
    "3": ("swagger3.json",),
    "3.1": ("swagger3.1.json",),
}


def swagger_version(query: str) -> str:
    """``?version=2|3|3.1`` (default 2; 2.0 and 3.0 are aliases, as azmlinfsrv); 404 for others."""
    asked = (parse_qs(query).get("version") or ["2"])[0]
    version = _VERSIONS.get(asked)
    if version is None:
        raise GatewayError(
            ErrorCode.NOT_FOUND,
            f"swagger version {asked!r} is not served; use ?version=2 (default), ?version=3 or "
            "?version=3.1.",
        )
    return version


def user_swagger(code_dir: str | Path, version: str) -> tuple[str, dict[str, Any]] | None:
    """The user's own document for ``version`` from the code folder: (file name, document).

    Raises:
        GatewayError: the file is there but is not a JSON object (500, naming the file).
    """
    for name in USER_SWAGGER_FILES[version]:
        path = Path(code_dir) / name
        if not path.is_file():
            continue
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise _invalid(name, f"is not valid JSON ({exc})") from exc
        if not isinstance(document, dict):
            raise _invalid(name, f"holds a JSON {type(document).__name__}, not an object")
        return name, document
    return None


def _invalid(name: str, why: str) -> GatewayError:
    return GatewayError(
        ErrorCode.SWAGGER_INVALID,
        f"{name} in the deployment's code folder {why}; fix it (a Swagger/OpenAPI document is a "
        "JSON object) or remove it to use the document built from run()'s decorators.",
    )


def read_schemas(worker: WorkerSpec, timeout_s: float = 120.0) -> dict[str, Any]:
    """Import ``worker``'s script in its environment, with a replica's environment variables,
    and return its schemas (blocking)."""
    try:
        done = subprocess.run(
            [worker.python, _PROBE, worker.entry_script, worker.code_dir],
            cwd=worker.code_dir,
            env=worker_environ(worker, os.environ),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GatewayError(
            ErrorCode.SWAGGER_FAILED, f"could not read the script's schemas: {exc}"
        ) from exc
    marker = done.stdout.rfind(_MARK)
    if done.returncode != 0 or marker < 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise GatewayError(
            ErrorCode.SWAGGER_FAILED,
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
            ErrorCode.SWAGGER_NOT_FOUND,
            f"deployment {deployment!r} has no swagger document for version {version}: its run() "
            "has no @input_schema/@output_schema decorators (package inference-schema); add them "
            f"to describe the API, or put {' or '.join(USER_SWAGGER_FILES[version])} in the code "
            "folder.",
        )
    supported = [str(v)[0] for v in schemas.get("versions") or []]
    if supported and version[0] not in supported:
        raise GatewayError(
            ErrorCode.NOT_FOUND, f"the script's schemas support versions {supported}"
        )
    inputs, outputs = schemas.get("input") or {}, schemas.get("output") or {}
    title = f"{endpoint}/{deployment}"
    if version in ("3", "3.1"):
        ref = "#/components/schemas/"
        return {
            "openapi": "3.1.0" if version == "3.1" else "3.0.1",
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
