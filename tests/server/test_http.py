"""The control plane over real HTTP: auth, error bodies, size limits, OpenAPI, pagination."""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import ferry
from ferry.local_workspace.launcher import server_status
from ferry.local_workspace.layout import WorkspaceLayout
from ferry.settings import Settings
from tests.conftest import running_server


@pytest.fixture(scope="module")
def api(server: Settings) -> Iterator[httpx.Client]:
    info = server_status(server)
    assert info is not None
    token = WorkspaceLayout(server.resolved_workspace).read_token()
    with httpx.Client(base_url=info["url"], headers={"Authorization": f"Bearer {token}"}) as c:
        yield c


def test_health_needs_no_token_and_tells_only_liveness(api: httpx.Client) -> None:
    body = httpx.get(f"{api.base_url}/api/v1/health").json()
    assert body == {"status": "ok", "version": ferry.__version__}  # no workspace path, no pid


def test_missing_token_is_401_with_fix(api: httpx.Client) -> None:
    response = httpx.get(f"{api.base_url}/api/v1/models")
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "unauthorized"
    assert "Authorization: Bearer" in body["message"]


def test_wrong_token_is_401(api: httpx.Client) -> None:
    response = httpx.get(f"{api.base_url}/api/v1/models", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert "token is wrong" in response.json()["message"]


def test_token_and_key_files_are_private(server: Settings, api: httpx.Client) -> None:
    layout = WorkspaceLayout(server.resolved_workspace)
    assert layout.token_file.stat().st_mode & 0o777 == 0o600
    assert api.put("/api/v1/secrets/K", json={"value": "v"}).status_code == 201
    assert layout.key_file.stat().st_mode & 0o777 == 0o600


def test_openapi_fields_have_descriptions(api: httpx.Client) -> None:
    spec = api.get("/api/openapi.json").json()
    assert "/api/v1/{collection}/{name}" in spec["paths"]
    missing = []
    for name, schema in spec["components"]["schemas"].items():
        if name.startswith(("HTTPValidationError", "ValidationError", "Body_")):
            continue
        for field, prop in schema.get("properties", {}).items():
            if "description" not in prop:
                missing.append(f"{name}.{field}")
    assert missing == []


def test_unknown_field_is_422_naming_it(api: httpx.Client) -> None:
    spec = {"name": "m", "path": "azureml://datastores/workspaceblobstore/paths/x", "colour": 1}
    response = api.post("/api/v1/models", json=spec)
    assert response.status_code == 422
    assert "unknown field 'colour'" in response.json()["message"]


def test_bad_name_quotes_the_rule(api: httpx.Client) -> None:
    response = api.post("/api/v1/models", json={"name": "-bad name", "path": "https://x/y"})
    assert response.status_code in (400, 422)
    assert "letters, digits" in response.json()["message"]


def test_local_path_without_upload_is_explained(api: httpx.Client) -> None:
    response = api.post("/api/v1/models", json={"name": "m", "path": "./model"})
    assert response.status_code == 400
    assert "no files were uploaded" in response.json()["message"]


def test_missing_datastore_path_is_404(api: httpx.Client) -> None:
    uri = "azureml://datastores/workspaceblobstore/paths/not/there.csv"
    response = api.post("/api/v1/data", json={"name": "d", "path": uri, "type": "uri_file"})
    assert response.status_code == 404
    assert "not/there.csv" in response.json()["message"]


def test_escaping_archive_is_rejected_and_leaves_nothing(
    api: httpx.Client, server: Settings
) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("../evil.txt")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    response = api.post(
        "/api/v1/models",
        data={"spec": json.dumps({"name": "evil", "path": "x"})},
        files={"archive": ("a.tar.gz", buf.getvalue(), "application/gzip")},
    )
    assert response.status_code == 400
    assert "evil.txt" in response.json()["message"]
    assert api.get("/api/v1/models", params={"name": "evil"}).json()["value"] == []
    tmp = WorkspaceLayout(server.resolved_workspace).tmp
    assert list(tmp.iterdir()) == []


def test_not_found_is_404_json(api: httpx.Client) -> None:
    response = api.get("/api/v1/models/nothing-here", params={"version": "1"})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_pagination(api: httpx.Client, tmp_path: Path) -> None:
    for i in range(5):
        spec = {"name": f"page-{i}", "path": "https://example.invalid/model.bin"}
        assert api.post("/api/v1/models", json=spec).status_code == 201
    seen: list[str] = []
    token = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if token:
            params["page_token"] = token
        body = api.get("/api/v1/models", params=params).json()
        assert len(body["value"]) <= 2
        seen += [m["name"] for m in body["value"]]
        token = body["next_page_token"]
        if not token:
            break
    assert {f"page-{i}" for i in range(5)} <= set(seen)
    assert len(seen) == len(set(seen))


def test_oversized_body_is_413(tmp_path: Path) -> None:
    for settings in running_server(tmp_path / "small", max_json_bytes=1024, max_upload_bytes=8192):
        info = server_status(settings)
        assert info is not None
        token = WorkspaceLayout(settings.resolved_workspace).read_token()
        headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
        response = httpx.post(f"{info['url']}/api/v1/models", content=b"x" * 4096, headers=headers)
        assert response.status_code == 413
        assert "raise FERRY_MAX_JSON_BYTES" in response.json()["message"]

        def chunks() -> Iterator[bytes]:
            yield from [b"x" * 512] * 8  # no Content-Length: counted as it streams

        response = httpx.post(f"{info['url']}/api/v1/models", content=chunks(), headers=headers)
        assert response.status_code == 413
        # A route whose body FastAPI parses (it would answer a failed read with a 400) too.
        response = httpx.post(
            f"{info['url']}/api/v1/batch-endpoints", content=chunks(), headers=headers
        )
        assert response.status_code == 413
        assert "raise FERRY_MAX_JSON_BYTES" in response.json()["message"]

        # Uploads have their own, larger limit: 4 KiB passes it, 16 KiB does not.
        spec = {"spec": json.dumps({"name": "up", "path": "model"})}
        small = ("m.tar.gz", _tar_gz(4096), "application/gzip")
        api = httpx.Client(base_url=info["url"], headers={"Authorization": f"Bearer {token}"})
        with api:
            response = api.post("/api/v1/models", data=spec, files={"archive": small})
            assert response.status_code == 201
            big = ("m.tar.gz", os.urandom(16384), "application/gzip")
            response = api.post("/api/v1/models", data=spec, files={"archive": big})
            assert response.status_code == 413
            assert "upload" in response.json()["message"]
            assert "raise FERRY_MAX_UPLOAD_BYTES" in response.json()["message"]


def _tar_gz(size: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("model/weights.bin")
        info.size = size
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    return buf.getvalue()


def test_second_server_refuses_and_names_the_first(server: Settings) -> None:
    import subprocess
    import sys

    info = server_status(server)
    assert info is not None
    env = {"FERRY_WORKSPACE": str(server.resolved_workspace), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "ferry.server"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert "already running" in proc.stderr
    assert str(info["pid"]) in proc.stderr


def test_interrupted_upload_leaves_no_asset(api: httpx.Client, server: Settings) -> None:
    import socket
    import time
    from urllib.parse import urlsplit

    url = urlsplit(str(api.base_url))
    token = WorkspaceLayout(server.resolved_workspace).read_token()
    boundary = "ferryboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="spec"\r\n\r\n'
        + json.dumps({"name": "half", "path": "x"})
        + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="archive"; '
        'filename="a.tar.gz"\r\nContent-Type: application/gzip\r\n\r\n'
    ).encode()
    declared = len(head) + 1_000_000
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(
            (
                f"POST /api/v1/models HTTP/1.1\r\nHost: {url.netloc}\r\n"
                f"Authorization: Bearer {token}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {declared}\r\n\r\n"
            ).encode()
            + head
            + b"\x1f\x8b"
            + b"x" * 50_000
        )
        time.sleep(0.3)
    # The client vanished mid-body: no row, nothing staged.
    deadline = time.monotonic() + 5
    tmp = WorkspaceLayout(server.resolved_workspace).tmp
    while time.monotonic() < deadline and any(tmp.iterdir()):
        time.sleep(0.1)
    assert api.get("/api/v1/models", params={"name": "half"}).json()["value"] == []
    assert list(tmp.iterdir()) == []
