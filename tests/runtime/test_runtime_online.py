from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ferry.runtime.messages import join_bodies, split_bodies

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8

NO_WERKZEUG = [
    "-c",
    "import sys, runpy; sys.modules['werkzeug'] = None; "
    "runpy.run_module('ferry.runtime.worker', run_name='__main__', alter_sys=True)",
]


def _score(
    w: Any, body: bytes = b"", method: str = "POST", **extra: Any
) -> tuple[dict[str, Any], bytes]:
    return w.request({"kind": "score", "method": method, "path": "/score", **extra}, body)


def _headers(reply: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in reply["headers"]}


def test_undecorated_run_gets_the_body_as_str_and_output_is_json(workers: Any) -> None:
    script = workers.script(
        """
        import json
        def init():
            global factor
            factor = 2
        def run(raw_data):
            assert isinstance(raw_data, str)
            data = json.loads(raw_data)["data"]
            return {"result": [x * factor for x in data], "type": type(raw_data).__name__}
        """
    )
    w = workers.start(script)
    assert w.first["kind"] == "ready", w.logs()
    assert w.first["capabilities"] == {"run_batch": False, "rawhttp": False, "input_schema": False}
    reply, body = _score(w, b'{"data": [1, 2, 3]}', headers=[["Content-Type", "application/json"]])
    assert reply["kind"] == "result"
    assert reply["status"] == 200
    assert _headers(reply)["content-type"] == "application/json"
    assert json.loads(body) == {"result": [2, 4, 6], "type": "str"}
    assert reply["elapsed_ms"] >= 0


def test_get_query_is_passed_as_json_and_bad_input_is_400(workers: Any) -> None:
    script = workers.script(
        """
        def init():
            pass
        def run(data):
            return data
        """
    )
    w = workers.start(script)
    reply, body = _score(w, method="GET", query="a=1&b=[1,2]&c=x&c=y")
    assert json.loads(json.loads(body)) == {"a": 1, "b": [1, 2], "c": ["x", "y"]}
    reply, _ = _score(w, b"\xff\xfe not utf-8")
    assert reply["kind"] == "error"
    assert reply["status"] == 400
    assert reply["error"]["message"].startswith("Input cannot be decoded as UTF-8")
    reply, _ = _score(w, method="DELETE")
    assert (reply["status"], reply["error"]["message"]) == (405, "Method not allowed")
    reply, _ = _score(w, method="OPTIONS")
    assert (reply["kind"], reply["status"]) == ("result", 200)


def test_request_headers_parameter_gets_a_flask_style_dict(workers: Any) -> None:
    script = workers.script(
        """
        def init():
            pass
        def run(data, request_headers):
            return {"data": data, "headers": request_headers}
        """
    )
    w = workers.start(script)
    _reply, body = _score(
        w,
        b"hello",
        headers=[
            ["content-type", "text/plain"],
            ["x-request-id", "abc"],
            ["x-multi", "1"],
            ["x-multi", "2"],
        ],
    )
    out = json.loads(body)
    assert out["data"] == "hello"
    assert out["headers"]["Content-Type"] == "text/plain"
    assert out["headers"]["X-Request-Id"] == "abc"
    assert out["headers"]["X-Multi"] == "1, 2"
    assert out["headers"]["Content-Length"] == "5"


def test_script_exception_is_500_with_traceback_data(workers: Any) -> None:
    script = workers.script(
        """
        def init():
            pass
        def run(data):
            return helper(data)
        def helper(data):
            raise RuntimeError("model exploded on " + data)
        """
    )
    w = workers.start(script)
    reply, _ = _score(w, b"input-1")
    assert reply["kind"] == "error"
    assert reply["status"] == 500
    assert reply["error"]["type"] == "RuntimeError"
    assert reply["error"]["message"] == "model exploded on input-1"
    assert reply["error"]["where"] == "run"
    assert "in helper" in reply["error"]["traceback"]
    assert "model exploded on input-1" in w.logs()  # and the traceback lands in the worker log
    reply, _ = _score(w, b"x", method="GET")  # the worker is still serving
    assert reply["kind"] == "error"


def test_unserialisable_output_names_the_type(workers: Any) -> None:
    script = workers.script(
        """
        def init():
            pass
        def run(data):
            return object()
        """
    )
    w = workers.start(script)
    reply, _ = _score(w, b"x")
    assert reply["status"] == 500
    assert reply["error"]["where"] == "output"
    assert reply["error"]["message"].startswith("run() returned a object that cannot be serialised")


@pytest.mark.parametrize("werkzeug", [True, False], ids=["werkzeug", "stdlib-fallback"])
def test_rawhttp_multipart_upload_and_png_response(
    workers: Any, encode_multipart: Any, werkzeug: bool, need_in_user_env: Any
) -> None:
    if werkzeug:
        need_in_user_env("werkzeug")
    script = workers.script(
        """
        from azureml.contrib.services.aml_request import AMLRequest, rawhttp
        from azureml.contrib.services.aml_response import AMLResponse

        def init():
            pass

        @rawhttp
        def run(request):
            if request.method != "POST":
                return AMLResponse("only POST", 405)
            upload = request.files.getlist("file")[0]
            data = upload.stream.read()
            headers = {"Content-Type": "image/png", "X-Upload-Name": upload.filename}
            resp = AMLResponse(data[::-1][::-1], 200, headers)
            assert resp.mimetype == "image/png", resp.mimetype
            assert resp.status_code == 200
            assert resp.get_data() == data
            resp.headers["X-Caption"] = request.form["caption"] + "|" + request.args["size"]
            base = type(request).__mro__[1].__module__
            resp.headers["X-Class"] = type(request).__name__ + "/" + base
            return resp
        """
    )
    w = workers.start(script, python_prefix=None if werkzeug else NO_WERKZEUG)
    assert w.first["kind"] == "ready", w.logs()
    assert w.first["capabilities"]["rawhttp"] is True
    ctype, body = encode_multipart({"caption": "a cat"}, {"file": ("cat.png", PNG, "image/png")})
    reply, out = _score(w, body, query="size=64", headers=[["Content-Type", ctype]])
    assert reply["kind"] == "result", reply
    assert reply["status"] == 200
    headers = _headers(reply)
    assert headers["content-type"] == "image/png"
    assert headers["x-upload-name"] == "cat.png"
    assert headers["x-caption"] == "a cat|64"
    assert headers["x-ms-run-function-failed"] == "False"
    assert "content-length" not in headers  # the gateway frames the body itself
    assert out == PNG
    expected_base = "werkzeug.wrappers.request" if werkzeug else "ferry.runtime._fallback"
    assert headers["x-class"] == f"AMLRequest/{expected_base}"
    reply, out = _score(w, method="GET")
    assert (reply["status"], out) == (405, b"only POST")


def test_modern_import_paths_json_str_and_5xx_flag(workers: Any) -> None:
    script = workers.script(
        """
        import azureml_inference_server_http.api.aml_request as req_mod
        from azureml_inference_server_http.api.aml_request import rawhttp, AMLRequest
        from azureml_inference_server_http.api.aml_response import AMLResponse
        from azureml_user.parallel_run import EntryScript

        def init():
            assert req_mod.__ferry_shim__ is True

        @rawhttp
        def run(req):
            body = req.get_json()
            if body.get("fail"):
                return AMLResponse({"message": "bad model"}, 503, json_str=True)
            echo = {"echo": body, "json": req.json, "ct": req.headers["Content-Type"]}
            return AMLResponse(echo, 201, json_str=True)
        """
    )
    w = workers.start(script)
    assert w.first["kind"] == "ready", w.logs()
    hdr = [["Content-Type", "application/json"]]
    reply, out = _score(w, b'{"a": 1}', headers=hdr)
    assert reply["status"] == 201
    assert _headers(reply)["content-type"] == "application/json"
    assert json.loads(out) == {"echo": {"a": 1}, "json": {"a": 1}, "ct": "application/json"}
    reply, out = _score(w, b'{"fail": true}', headers=hdr)
    assert reply["status"] == 503
    assert _headers(reply)["x-ms-run-function-failed"] == "True"
    assert json.loads(out) == {"message": "bad model"}


def test_input_schema_decorated_run_gets_keyword_arguments(workers: Any, tmp_path: Path) -> None:
    # A stand-in with inference-schema's public API (schema_util.is_schema_decorated keyed by the
    # function's qualified name), placed in the code folder like a vendored dependency.
    pkg = tmp_path / "code" / "inference_schema"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "schema_util.py").write_text(
        "__functions_schema__ = {}\n"
        "def is_schema_decorated(func):\n"
        "    return f'{func.__module__}.{func.__qualname__}' in __functions_schema__\n"
    )
    (pkg / "schema_decorators.py").write_text(
        "from .schema_util import __functions_schema__\n"
        "def input_schema(param_name, param_type, convert_to_provided_type=True):\n"
        "    def deco(func):\n"
        "        __functions_schema__[f'{func.__module__}.{func.__qualname__}'] = param_type\n"
        "        return func\n"
        "    return deco\n"
    )
    script = workers.script(
        """
        from inference_schema.schema_decorators import input_schema

        def init():
            pass

        @input_schema("data", [1, 2])
        def run(data, beam_size=5):
            return {"data": data, "beam_size": beam_size}
        """
    )
    w = workers.start(script)
    assert w.first["capabilities"]["input_schema"] is True, w.logs()
    json_ct = [["Content-Type", "application/json"]]
    reply, out = _score(w, b'{"data": [3, 4]}', headers=json_ct)
    assert json.loads(out) == {"data": [3, 4], "beam_size": 5}
    reply, _ = _score(w, b'{"data": 1}', headers=[["Content-Type", "text/plain"]])
    assert (reply["status"], reply["error"]["message"]) == (
        415,
        "Expects Content-Type to be application/json",
    )
    reply, _ = _score(w, b'{"beam_size": 2}', headers=json_ct)
    assert reply["status"] == 400
    assert reply["error"]["message"] == "A value is not provided for the 'data' parameter."
    reply, _ = _score(w, b"[1]", headers=json_ct)
    assert reply["error"]["message"] == "POST body should be a JSON dictionary."
    reply, out = _score(w, method="GET", query="data=[7]&beam_size=1")
    assert json.loads(out) == {"data": [7], "beam_size": 1}


def test_online_script_without_run_or_init_fails_with_the_contract(workers: Any) -> None:
    w = workers.start(workers.script("def init():\n    pass\n"))
    assert w.first["kind"] == "init_failed"
    assert w.first["error"]["message"] == (
        "score.py defines no run() function; a scoring script must define init() and run(...)"
    )
    assert w.wait() == 3
    w = workers.start(workers.script("def run(data):\n    return data\n", name="app.py"))
    assert w.first["error"]["message"] == (
        "app.py defines no init() function; a scoring script must define init() and run(...)"
    )
    w = workers.start(
        workers.script("def init():\n    pass\ndef run(*args):\n    pass\n", name="s2.py")
    )
    assert (
        w.first["error"]["message"]
        == "run() cannot accept positional-only arguments, *args, or **kwargs."
    )
    w = workers.start(workers.script("import not_installed_pkg_xyz\n", name="s3.py"))
    assert w.first["error"]["type"] == "ModuleNotFoundError"
    assert w.first["error"]["where"] == "load"
    assert "s3.py" in w.first["error"]["traceback"]


def _score_batch(w: Any, bodies: list[bytes]) -> tuple[list[dict[str, Any]], list[bytes]]:
    lengths, packed = join_bodies(bodies)
    requests = [{"method": "POST", "path": "/score", "headers": [], "body_len": n} for n in lengths]
    reply, body = w.request({"kind": "score_batch", "requests": requests}, packed)
    assert reply["kind"] == "results", reply
    items = reply["items"]
    ok_bodies = split_bodies([i["body_len"] for i in items if i["ok"]], body)
    return items, ok_bodies


def test_run_batch_isolates_a_failing_item(workers: Any) -> None:
    script = workers.script(
        """
        def init():
            global batches
            batches = []
        def run(data):
            if data == "boom":
                raise ValueError("boom is not a number")
            return {"single": int(data)}
        def run_batch(inputs):
            batches.append(len(inputs))
            return [
                ValueError("cannot score " + x) if x == "bad" else {"n": int(x), "batches": batches}
                for x in inputs
            ]
        """
    )
    w = workers.start(script)
    assert w.first["capabilities"]["run_batch"] is True
    items, bodies = _score_batch(w, [b"1", b"bad", b"3"])
    assert [i["ok"] for i in items] == [True, False, True]
    assert items[1]["status"] == 500
    assert items[1]["error"]["message"] == "cannot score bad"
    assert [json.loads(b) for b in bodies] == [{"n": 1, "batches": [3]}, {"n": 3, "batches": [3]}]

    # run_batch itself raises: every item is retried alone with run(); only "boom" fails.
    items, bodies = _score_batch(w, [b"4", b"boom", b"\xff"])
    assert [i["ok"] for i in items] == [True, False, False]
    assert items[1]["error"]["message"] == "boom is not a number"
    assert items[2]["status"] == 400  # not UTF-8: rejected before run_batch
    assert [json.loads(b) for b in bodies] == [{"single": 4}]


def test_score_batch_without_run_batch_calls_run_per_item(workers: Any) -> None:
    script = workers.script(
        """
        def init():
            pass
        def run(data):
            return 10 / int(data)
        """
    )
    w = workers.start(script)
    items, bodies = _score_batch(w, [b"2", b"0", b"5"])
    assert [i["ok"] for i in items] == [True, False, True]
    assert items[1]["error"]["type"] == "ZeroDivisionError"
    assert [json.loads(b) for b in bodies] == [5.0, 2.0]


def test_real_inference_schema_package(workers: Any, need_in_user_env: Any) -> None:
    need_in_user_env("inference_schema")
    script = workers.script(
        """
        from inference_schema.schema_decorators import input_schema, output_schema
        from inference_schema.parameter_types.standard_py_parameter_type import (
            StandardPythonParameterType,
        )

        def init():
            pass

        @input_schema("input_param", StandardPythonParameterType("input sequence."))
        @input_schema("beam_size", StandardPythonParameterType(3), convert_to_provided_type=False)
        @output_schema(StandardPythonParameterType([[98.3, "Output sequence."]]))
        def run(input_param, beam_size=5):
            return [[len(input_param), input_param, beam_size]]
        """
    )
    w = workers.start(script)
    assert w.first["kind"] == "ready", w.logs()
    assert w.first["capabilities"]["input_schema"] is True
    json_ct = [["Content-Type", "application/json"]]
    _reply, out = _score(w, b'{"input_param": "abc"}', headers=json_ct)
    assert json.loads(out) == [[3, "abc", 5]]
    _reply, out = _score(w, b'{"input_param": "abcd", "beam_size": 2}', headers=json_ct)
    assert json.loads(out) == [[4, "abcd", 2]]


def test_a_return_value_nested_too_deeply_is_an_output_error_naming_run(workers: Any) -> None:
    """RecursionError from the encoder is the script's output, not a protocol error (a 400)."""
    script = workers.script(
        """
        def init():
            pass
        def run(data):
            nested = []
            for _ in range(100000):
                nested = [nested]
            return nested
        """
    )
    w = workers.start(script)
    reply, _ = _score(w, b"x")
    assert (reply["kind"], reply["status"]) == ("error", 500)
    assert reply["error"]["where"] == "output"
    assert reply["error"]["type"] == "RecursionError"
    assert reply["error"]["message"].startswith(
        "run() returned a list that cannot be serialised to JSON (RecursionError: "
    )
    reply, _ = _score(w, b"x", method="GET")  # the worker is still serving
    assert reply["status"] == 500


def test_nan_and_infinity_in_a_result_are_sent_as_null(workers: Any) -> None:
    script = workers.script(
        """
        import math
        from azureml_inference_server_http.api.aml_response import AMLResponse
        def init():
            pass
        def run(data):
            scores = {"score": math.nan, "high": math.inf, "rows": [1.5, -math.inf], "n": 2}
            if data == "response":
                return AMLResponse(scores, 200)
            return scores
        """
    )
    w = workers.start(script)

    def strict(text: bytes) -> Any:
        def refuse(word: str) -> Any:
            raise AssertionError(f"{word} is not JSON")

        return json.loads(text, parse_constant=refuse)

    expected = {"score": None, "high": None, "rows": [1.5, None], "n": 2}
    for body in (b"plain", b"response"):
        reply, out = _score(w, body)
        assert reply["status"] == 200, reply
        assert strict(out) == expected
