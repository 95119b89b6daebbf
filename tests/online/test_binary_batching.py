"""Binary in and out (@rawhttp, AMLResponse), inference-schema swagger, dynamic batching."""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from ferry import MLClient
from tests.online.conftest import deploy, make_endpoint, metric, scoring, write_code

PNG_SCRIPT = """
import io

from azureml.contrib.services.aml_request import AMLRequest, rawhttp
from azureml.contrib.services.aml_response import AMLResponse
from PIL import Image, ImageOps


def init():
    pass


@rawhttp
def run(request):
    if request.method != "POST":
        return AMLResponse("POST an image as multipart field 'file'", 405)
    upload = request.files.getlist("file")[0]
    image = Image.open(upload.stream).convert("RGB")
    inverted = ImageOps.invert(image)
    out = io.BytesIO()
    inverted.save(out, format="PNG")
    return AMLResponse(out.getvalue(), 200, {"Content-Type": "image/png"})
"""

SCHEMA_SCRIPT = """
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema


def init():
    pass


@input_schema("text", StandardPythonParameterType("hello"))
@input_schema("times", StandardPythonParameterType(2))
@output_schema(StandardPythonParameterType(["hello", "hello"]))
def run(text, times=1, request_headers=None):
    return [text] * times + [request_headers.get("X-Tenant", "")]
"""

BATCH_SCRIPT = """
import json
import time

def init():
    pass

def run(raw):
    data = json.loads(raw)
    if data.get("bad"):
        raise ValueError("bad input " + str(data["n"]))
    return {"n": data["n"], "batch": 1}

def run_batch(raws):
    time.sleep(0.05)  # a model's forward pass: requests arriving meanwhile form the next batch
    items = [json.loads(r) for r in raws]
    if any(item.get("bad") for item in items):
        raise ValueError("a bad item in the batch")
    return [{"n": item["n"], "batch": len(items)} for item in items]
"""


def test_png_round_trip(ml_client: MLClient, tmp_path: Path, http: httpx.Client) -> None:
    from PIL import Image

    make_endpoint(ml_client, "png-ep")
    deploy(ml_client, "png-ep", "paint", write_code(tmp_path, PNG_SCRIPT))
    uri, headers = scoring(ml_client, "png-ep")
    source = io.BytesIO()
    Image.new("RGB", (64, 32), (10, 200, 30)).save(source, format="PNG")
    files = {"file": ("in.png", source.getvalue(), "image/png")}
    response = http.post(uri, files=files, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (64, 32)
    assert image.getpixel((0, 0)) == (245, 55, 225)
    assert http.get(uri, headers=headers).status_code == 405


def test_inference_schema_swagger_and_keyword_input(
    ml_client: MLClient, tmp_path: Path, http: httpx.Client
) -> None:
    make_endpoint(ml_client, "schema-ep")
    deploy(ml_client, "schema-ep", "typed", write_code(tmp_path, SCHEMA_SCRIPT))
    uri, headers = scoring(ml_client, "schema-ep")
    body = {"text": "hi", "times": 3}
    answer = http.post(uri, json=body, headers={**headers, "X-Tenant": "t1"})
    assert answer.json() == ["hi", "hi", "hi", "t1"]
    swagger_uri = ml_client.online_endpoints.get("schema-ep").openapi_uri
    assert swagger_uri is not None
    document = http.get(swagger_uri, headers=headers).json()
    assert document["swagger"] == "2.0"
    properties = document["definitions"]["ServiceInput"]["properties"]
    assert properties["text"]["type"] == "string" and properties["times"]["type"] == "integer"
    assert document["paths"]["/score"]["post"]["responses"]["200"]["schema"] == {
        "$ref": "#/definitions/ServiceOutput"
    }
    v3 = http.get(swagger_uri, params={"version": "3"}, headers=headers).json()
    assert v3["openapi"].startswith("3.") and "ServiceInput" in v3["components"]["schemas"]
    assert http.get(swagger_uri, params={"version": "9"}, headers=headers).status_code == 404
    assert http.get(swagger_uri).status_code == 401


def test_undecorated_script_has_no_swagger(
    ml_client: MLClient, tmp_path: Path, http: httpx.Client
) -> None:
    make_endpoint(ml_client, "plain-ep")
    code = write_code(tmp_path, "def init():\n    pass\n\ndef run(raw):\n    return raw\n")
    deploy(ml_client, "plain-ep", "plain", code)
    uri, headers = scoring(ml_client, "plain-ep")
    response = http.get(uri.removesuffix("score") + "swagger.json", headers=headers)
    assert response.status_code == 404
    assert "has no @input_schema/@output_schema" in response.json()["message"]


def test_dynamic_batching_groups_requests_and_isolates_failures(
    ml_client: MLClient, tmp_path: Path, http: httpx.Client
) -> None:
    make_endpoint(ml_client, "batch-ep")
    deploy(
        ml_client,
        "batch-ep",
        "grouped",
        write_code(tmp_path, BATCH_SCRIPT),
        batching={"max_batch_size": 8, "max_batch_wait_ms": 100},
    )
    uri, headers = scoring(ml_client, "batch-ep")

    def one(n: int) -> httpx.Response:
        body = {"n": n, "bad": n == 5}
        return http.post(uri, content=json.dumps(body), headers=headers)

    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(one, range(16)))
    bad = responses[5]
    assert bad.status_code == 424
    assert bad.headers["ms-azureml-model-error-reason"] == "ValueError: bad input 5"
    good = [r for i, r in enumerate(responses) if i != 5]
    assert all(r.status_code == 200 for r in good), [r.text for r in good]
    assert [r.json()["n"] for r in good] == [i for i in range(16) if i != 5]
    count = metric(http, ml_client, "ferry_online_batch_size_count", deployment="grouped")
    total = metric(http, ml_client, "ferry_online_batch_size_sum", deployment="grouped")
    assert count >= 1 and total == 16 and total / count > 1, (count, total)
    # Without a bad neighbour the batch is answered by run_batch itself.
    with ThreadPoolExecutor(8) as pool:
        sizes = [r.json()["batch"] for r in pool.map(lambda n: one(100 + n), range(8))]
    assert max(sizes) > 1, sizes
