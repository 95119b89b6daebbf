"""Every path parameter of the real server, fed nasty values: never a 500, always JSON errors.

The routes come from the running server's own OpenAPI document (plus the scoring gateway, which
sits in front of FastAPI), so a route added later is fuzzed without touching this file. Each
nasty value replaces one path parameter at a time while the others name things that exist, so
the request reaches the code that uses the value (a job's files, an endpoint's deployments).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from ferry import BatchDeployment, BatchEndpoint, Input, MLClient, Model
from ferry.local_workspace.launcher import server_status, stop_server
from ferry.local_workspace.layout import WorkspaceLayout
from ferry.settings import Settings
from ferry.specs.batch import CodeConfigurationSpec

# Sent as they are: the server percent-decodes them into NUL bytes, '../' and invalid UTF-8.
RAW = ["%00", "a%00b", "%2e%2e%2f", "%2e%2e%2fetc%2fpasswd", "logs/%00", "logs%2f%00", "%FF", "%20"]
# Sent percent-encoded (dots too, or the client would collapse '..' before sending).
LITERAL = [
    "",
    ".",
    "..",
    "a\x00b",
    "a" * 5000,
    "logs/" + "a" * 5000,
    "../../etc/passwd",
    "%2e%2e%2f",
    "ünïcødé-名前",
    " ",
    "\t\n",
    "a b",
    "logs/..",
    "logs/../../..",
    "named-outputs/./",
    "-",
]
ENDPOINT = "fuzz-endpoint"
ONLINE = "fuzz-online"
DRIVER = "def init():\n    pass\n\ndef run(mini_batch):\n    return list(mini_batch)\n"


def _encode(value: str) -> str:
    return quote(value, safe="").replace(".", "%2E")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, str]]:
    """A server with a model, a batch endpoint, a finished job and an online endpoint."""
    root = tmp_path_factory.mktemp("fuzz")
    settings = Settings(workspace=root / "ws")
    client = MLClient(settings=settings)
    try:
        code = root / "code"
        code.mkdir()
        (code / "driver.py").write_text(DRIVER, encoding="utf-8")
        weights = root / "weights.bin"
        weights.write_bytes(b"w")
        client.models.create_or_update(Model(name="fuzz-model", path=str(weights)))
        client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=ENDPOINT))
        deployment = BatchDeployment(
            name="fuzz",
            endpoint_name=ENDPOINT,
            model=Model(name="fuzz-model", path=str(weights)),
            code_configuration=CodeConfigurationSpec(code=str(code), scoring_script="driver.py"),
            environment="ferry:server-python",
        )
        client.batch_deployments.begin_create_or_update(deployment, set_default=True)
        inputs = root / "inputs"
        inputs.mkdir()
        (inputs / "one.txt").write_text("1", encoding="utf-8")
        job = client.batch_endpoints.invoke(
            endpoint_name=ENDPOINT, input=Input(type="uri_folder", path=str(inputs))
        )
        client.jobs.wait(job.name, timeout=120)
        info = server_status(settings)
        assert info is not None
        token = WorkspaceLayout(settings.resolved_workspace).read_token()
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=info["url"], headers=headers, timeout=30) as api:
            assert api.post("/api/v1/online-endpoints", json={"name": ONLINE}).status_code < 300
            yield api, job.name
    finally:
        client.close()
        stop_server(settings)


def _routes(api: httpx.Client) -> list[tuple[str, str, dict[str, Any]]]:
    document = api.get("/api/openapi.json").json()
    routes = []
    for template, methods in document["paths"].items():
        for method, operation in methods.items():
            routes.append((method.upper(), template, operation))
    # The scoring gateway answers these before FastAPI's routing, so OpenAPI does not list them.
    for method in ("GET", "POST"):
        routes.append((method, "/endpoints/{endpoint}/score", {}))
        routes.append((method, "/endpoints/{endpoint}/{path}", {}))
    return routes


def _body(template: str, operation: dict[str, Any]) -> dict[str, Any] | None:
    """A body the route would accept, so the path value is what gets judged."""
    if "requestBody" not in operation:
        return None
    if template.endswith("/secrets/{name}"):
        return {"value": "v"}
    if template.endswith("/deployments") and "batch" in template:
        return {"name": "dep", "model": "azureml:fuzz-model:1"}
    if template.endswith("/jobs"):
        return {"input": {"path": "file:///nonexistent"}}
    if template.endswith("/keys/regenerate"):
        return {"key_type": "primary"}
    return {}


def _existing(template: str, param: str, job: str) -> str:
    """The value of ``param`` that names something the fixture made."""
    if param == "path":
        return "logs/job_result.txt"
    if template.startswith(("/api/v1/online-endpoints", "/endpoints/")):
        return ONLINE
    if template.startswith("/api/v1/jobs/"):
        return job
    if template.startswith("/api/v1/batch-endpoints/"):
        return "fuzz" if param == "name" and "/deployments/" in template else ENDPOINT
    return {"collection": "models", "version": "1"}.get(param, "fuzz-model")


def _judge(response: httpx.Response, where: str, failures: list[str]) -> None:
    """Record ``response`` in ``failures`` if it is a 5xx or an error without the JSON shape."""
    if response.status_code >= 500:
        failures.append(f"{where}: {response.status_code} {response.text[:300]}")
        return
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        failures.append(f"{where}: {response.status_code} non-JSON {response.text!r}")
        return
    if not (
        isinstance(body, dict)
        and isinstance(body.get("code"), str)
        and isinstance(body.get("message"), str)
        and body["message"]
    ):
        failures.append(f"{where}: {response.status_code} body {body!r}"[:400])


def test_no_path_parameter_value_gives_a_500(world: tuple[httpx.Client, str]) -> None:
    api, job = world
    failures: list[str] = []
    sent = 0
    for method, template, operation in _routes(api):
        params = re.findall(r"\{(\w+)\}", template)
        for target in params:
            candidates = [(v, v) for v in RAW] + [(v, _encode(v)) for v in LITERAL]
            for shown, encoded in candidates:
                url = template
                for param in params:
                    value = encoded if param == target else _existing(template, param, job)
                    url = url.replace("{" + param + "}", value)
                where = f"{method} {template} {target}={shown[:40]!r}"
                try:
                    response = api.request(method, url, json=_body(template, operation))
                except httpx.TransportError as exc:  # the server dropped the connection
                    failures.append(f"{where}: {type(exc).__name__} {exc}")
                    continue
                sent += 1
                _judge(response, where, failures)
    assert sent > 500
    assert failures == [], "\n".join(failures)


def test_no_query_parameter_value_gives_a_500(world: tuple[httpx.Client, str]) -> None:
    """The same values in each query parameter, with the path naming things that exist."""
    api, job = world
    failures: list[str] = []
    sent = 0
    for method, template, operation in _routes(api):
        if method == "DELETE":
            continue  # with valid path parameters it would delete the fixture's things
        url = template
        for param in re.findall(r"\{(\w+)\}", template):
            url = url.replace("{" + param + "}", _existing(template, param, job))
        queries = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        for target in queries:
            for value in [*RAW, *LITERAL]:
                where = f"{method} {template} ?{target}={value[:40]!r}"
                try:
                    response = api.request(
                        method, url, params={target: value}, json=_body(template, operation)
                    )
                except httpx.TransportError as exc:
                    failures.append(f"{where}: {type(exc).__name__} {exc}")
                    continue
                sent += 1
                _judge(response, where, failures)
    assert sent > 100
    assert failures == [], "\n".join(failures)


def test_job_file_paths_are_4xx_with_a_reason(world: tuple[httpx.Client, str]) -> None:
    """The three crashes the issue reported, each named."""
    api, job = world
    base = f"/api/v1/jobs/{job}/files/"
    for path, status, words in [
        ("", 400, "path is empty; send a relative path starting with logs/ or named-outputs/"),
        ("%2E", 400, "names the folder itself"),  # encoded: clients collapse a bare '.'
        ("%2E%2E/%2E%2E/etc/passwd", 400, "outside the folder"),
        ("logs/%00", 400, "NUL"),
        ("logs/" + "a" * 5000, 400, "too long"),
    ]:
        response = api.get(base + path)
        assert response.status_code == status, (path[:20], response.text)
        assert words in response.json()["message"], (path[:20], response.text)
    assert api.get(base + "logs/job_result.txt").status_code == 200


def test_scoring_gateway_with_a_nasty_name_is_404(world: tuple[httpx.Client, str]) -> None:
    api, _ = world
    for name in ("%00", "a" * 5000, "%FF"):
        response = api.post(f"/endpoints/{name}/score", json={})
        assert response.status_code == 404
        assert "online endpoint" in response.json()["message"]


def test_an_input_path_too_long_is_refused_before_a_job_exists(
    world: tuple[httpx.Client, str],
) -> None:
    # invoke resolves its input before it creates a job, so the OSError that used to surface as
    # a job's 'internal error (OSError ...)' is now a 400 naming the field, and no job is made.
    api, _ = world
    jobs_before = api.get("/api/v1/jobs").json()["value"]
    for path, status, words in (
        ("file:///" + "a" * 5000, 400, "is too long for a file name"),
        # A datastore is listed, not opened, so the long name is simply not there.
        ("azureml://datastores/workspaceblobstore/paths/" + "a" * 5000, 404, "does not exist"),
    ):
        response = api.post(
            f"/api/v1/batch-endpoints/{ENDPOINT}/jobs", json={"input": {"path": path}}
        )
        assert response.status_code == status, response.text[:300]
        error = response.json()
        assert words in error["message"], error["message"][:300]
        assert "internal error" not in error["message"]
        assert error["details"]["field"] in ("input", "input.path")
    assert api.get("/api/v1/jobs").json()["value"] == jobs_before
