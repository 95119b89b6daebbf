"""The stdlib request/response used when werkzeug is absent, checked against werkzeug itself."""

from __future__ import annotations

import random
from typing import Any

import pytest
import werkzeug.wrappers as werkzeug_wrappers

from ferry.runtime._fallback import FallbackRequest, FallbackResponse
from ferry.runtime.azureml_shims import AMLResponse
from ferry.runtime.wsgi import build_environ


def _both(method: str, query: str, headers: list[tuple[str, str]], body: bytes) -> list[Any]:
    return [
        cls(build_environ(method, "/score", query, headers, body))
        for cls in (FallbackRequest, werkzeug_wrappers.Request)
    ]


def test_multipart_with_binary_files_matches_werkzeug(encode_multipart: Any) -> None:
    blob = random.Random(1).randbytes(20_000) + b"\r\n--\r\n\n\r"
    ctype, body = encode_multipart(
        {"caption": "héllo", "empty": ""},
        {
            "file": ("a.bin", blob, "application/octet-stream"),
            "file2": ("b.txt", b"x", "text/plain"),
        },
    )
    for req in _both("POST", "k=1&k=2&z=", [("Content-Type", ctype)], body):
        assert req.method == "POST"
        assert req.get_data() == body  # before .form: werkzeug consumes the stream when parsing
        assert req.form["caption"] == "héllo"
        assert req.form["empty"] == ""
        upload = req.files.getlist("file")[0]
        assert upload.filename == "a.bin"
        assert upload.stream.read() == blob
        assert req.files["file2"].read() == b"x"
        assert req.args.getlist("k") == ["1", "2"]
        assert req.args["z"] == ""
        assert dict(req.headers)["Content-Type"] == ctype


def test_json_urlencoded_and_headers_match_werkzeug() -> None:
    for req in _both(
        "POST", "", [("Content-Type", "application/json"), ("X-A", "1")], b'{"a": [1]}'
    ):
        assert req.is_json
        assert req.json == {"a": [1]}
        assert req.get_json() == {"a": [1]}
        assert req.headers.get("x-a") == "1"
        assert req.mimetype == "application/json"
        assert req.get_data(as_text=True) == '{"a": [1]}'
    form_ct = [("Content-Type", "application/x-www-form-urlencoded")]
    for req in _both("POST", "", form_ct, b"a=1&b=two+words"):
        assert req.form.to_dict() == {"a": "1", "b": "two words"}
    fallback, _ = _both("POST", "", [("Content-Type", "text/plain")], b"x")
    assert fallback.get_json(silent=True) is None
    with pytest.raises(ValueError, match="expected Content-Type application/json"):
        fallback.get_json()


def test_fallback_response_behaves_like_werkzeug() -> None:
    for cls in (FallbackResponse, werkzeug_wrappers.Response):
        resp = cls("hi", status=201)
        assert resp.status_code == 201
        assert resp.mimetype == "text/plain"
        assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert resp.get_data() == b"hi"
        streamed = cls((c for c in ["a", "b"]), status=200, mimetype="application/json")
        assert streamed.get_data() == b"ab"
        assert streamed.headers["Content-Type"] == "application/json"
        png = cls(b"\x89PNG", status=200)
        png.mimetype = "image/png"  # as Azure's samples (and seed Task 1) do
        assert png.headers["Content-Type"] == "image/png"
        png.mimetype = "text/csv"
        assert png.headers["Content-Type"] == "text/csv; charset=utf-8"


def test_aml_response_follows_azure_semantics() -> None:
    resp = AMLResponse(b"\x89PNG", 200, {"Content-Type": "image/png", "X-Multi": "a, b"})
    assert resp.mimetype == "image/png"
    assert resp.headers.getlist("X-Multi") == ["a", "b"]
    assert resp.headers.getlist("Content-Type") == ["image/png"]
    assert resp.headers["x-ms-run-function-failed"] == "False"
    assert AMLResponse(None, 204).get_data() == b"{}"
    assert AMLResponse({"a": 1}, 200).mimetype == "application/json"
    assert AMLResponse([1], 200, json_str=True).get_data() == b"[1]"
    assert (
        AMLResponse("x", 500, headers={"X-Y": "1"}, run_function_failed=True).headers["X-Y"] == "1"
    )
