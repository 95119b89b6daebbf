"""Which requests get the upload limit: exact upload paths, and route-like templates."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from ferry.server.limits import BodySizeLimit


async def _echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


def _client() -> TestClient:
    app = Starlette(routes=[Route("/{path:path}", _echo, methods=["POST"])])
    limited = BodySizeLimit(
        app,
        max_json_bytes=100,
        max_upload_bytes=10_000,
        upload_paths={"/api/v1/models", "/studio/batch-endpoints/{name}/invoke"},
    )
    return TestClient(limited)


def test_a_template_path_gets_the_upload_limit_for_one_segment_only() -> None:
    client = _client()
    files = {"file": ("a.bin", b"x" * 2_000)}
    assert client.post("/studio/batch-endpoints/ep-1/invoke", files=files).status_code == 200
    assert client.post("/api/v1/models", files=files).status_code == 200
    for path in ("/studio/batch-endpoints/a/b/invoke", "/studio/batch-endpoints//invoke", "/x"):
        refused = client.post(path, files=files)
        assert refused.status_code == 413, path
        assert "FERRY_MAX_JSON_BYTES" in refused.json()["message"]


def test_json_on_an_upload_path_keeps_the_json_limit() -> None:
    refused = _client().post("/studio/batch-endpoints/ep/invoke", content=b"{" + b" " * 500 + b"}")
    assert refused.status_code == 413
