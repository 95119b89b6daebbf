"""The built-in MLflow online scorer's request formats, and the swagger schemas of its signature."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ferry.online.mlflow_swagger import signature_schemas
from ferry.online.swagger import swagger_document
from ferry.runtime.mlflow_online import BadInputError, parse_request, to_jsonable

COLUMNS = [("age", "long"), ("oldpeak", "double"), ("thal", "string")]
ROWS = [[63, 2, "fixed"], [67, 1.5, "normal"]]


def _parse(body: object) -> tuple[object, str]:
    return parse_request(json.dumps(body), COLUMNS)


def _check(frame: object) -> None:
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["age", "oldpeak", "thal"]
    assert [str(t) for t in frame.dtypes] == ["int64", "float64", "object"]
    assert frame["oldpeak"].tolist() == [2.0, 1.5]


@pytest.mark.parametrize(
    "body",
    [
        {"input_data": {"columns": ["age", "oldpeak", "thal"], "index": [0, 1], "data": ROWS}},
        {"input_data": {"data": ROWS}},  # the signature names the columns
        {"dataframe_split": {"columns": ["age", "oldpeak", "thal"], "data": ROWS}},
        {
            "dataframe_records": [
                dict(zip(["age", "oldpeak", "thal"], r, strict=True)) for r in ROWS
            ]
        },
        {"instances": [dict(zip(["age", "oldpeak", "thal"], r, strict=True)) for r in ROWS]},
        {"inputs": {"age": [63, 67], "oldpeak": [2, 1.5], "thal": ["fixed", "normal"]}},
        {"inputs": ROWS},
    ],
)
def test_each_format_becomes_a_typed_frame(body: dict[str, object]) -> None:
    frame, key = _parse(body)
    assert key == next(iter(body))
    _check(frame)


def test_index_is_kept() -> None:
    frame, _ = _parse(
        {"input_data": {"columns": ["age", "oldpeak", "thal"], "index": [7, 9], "data": ROWS}}
    )
    assert list(frame.index) == [7, 9]  # type: ignore[attr-defined]


def test_tensor_input_without_signature_is_an_array() -> None:
    data, key = parse_request('{"instances": [[1, 2], [3, 4]]}', None)
    assert key == "instances" and isinstance(data, np.ndarray) and data.shape == (2, 2)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "the request body is not JSON"),
        ('{"data": [[1]]}', "exactly one of input_data, dataframe_split, dataframe_records"),
        ('{"inputs": [], "instances": []}', "exactly one of"),
        ("[1, 2]", "exactly one of"),
        ('{"dataframe_split": [[1]]}', "dataframe_split must be an object with 'data'"),
        ('{"dataframe_records": [[1]]}', "dataframe_records must be a list of objects"),
        (
            '{"input_data": {"data": [[1, 2]]}}',
            "rows have 2 values but the model's signature has 3",
        ),
        ('{"dataframe_records": [{"age": 1}]}', "lacks column(s) oldpeak, thal"),
        (
            '{"dataframe_records": [{"age": "old", "oldpeak": 1, "thal": "x"}]}',
            "column 'age' must hold long values",
        ),
        ('{"inputs": 3}', "inputs must be a list or an object, not a int"),
    ],
)
def test_bad_input_says_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(BadInputError) as caught:
        parse_request(raw, COLUMNS)
    assert message in str(caught.value)


def test_predictions_become_json_values() -> None:
    assert to_jsonable(np.array([0, 1])) == [0, 1]
    assert to_jsonable(pd.Series([0.5])) == [0.5]
    assert to_jsonable(pd.DataFrame({"a": [1]})) == [{"a": 1}]
    assert to_jsonable({"p": np.array([1])}) == {"p": [1]}


def test_swagger_from_the_heart_classifier_signature(examples: Path) -> None:
    model = examples / "batch/deploy-models/heart-classifier-mlflow/deployment-simple/model"
    schemas = signature_schemas(model)
    document = swagger_document(schemas, endpoint="e", deployment="d", version="2")
    service_input = document["definitions"]["ServiceInput"]
    split = service_input["properties"]["input_data"]
    assert split["properties"]["columns"]["items"]["enum"][:2] == ["age", "sex"]
    assert "oldpeak (double)" in split["properties"]["data"]["description"]
    row = service_input["properties"]["dataframe_records"]["items"]["properties"]
    assert row["age"] == {"type": "integer", "format": "int64"}
    assert row["oldpeak"] == {"type": "number", "format": "double"}
    assert row["thal"] == {"type": "string"}
    assert service_input["example"]["input_data"]["columns"][-1] == "thal"
    output = document["definitions"]["ServiceOutput"]
    assert output["type"] == "array" and output["items"] == {"type": "integer", "format": "int64"}
    v3 = swagger_document(schemas, endpoint="e", deployment="d", version="3.1")
    assert v3["openapi"] == "3.1.0" and "ServiceInput" in v3["components"]["schemas"]
