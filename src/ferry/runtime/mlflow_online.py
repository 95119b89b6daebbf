"""Ferry's built-in online scorer for MLflow models deployed with no code (Azure's no-code path).

It is the scoring script of an online deployment of an ``mlflow_model`` that has neither
``code_configuration`` nor ``environment``; it runs in the environment built from the model's own
``conda.yaml``. ``run()`` gets the body as a string (an undecorated script) and accepts:

* ``input_data`` (Azure's format): pandas' split orient (``columns``, ``index``, ``data``), a list
  of records, or a list of rows or values. The answer is the JSON list of predictions, as Azure's.
* MLflow serving's formats: ``dataframe_split``, ``dataframe_records``, ``instances`` and
  ``inputs``. The answer is ``{"predictions": [...]}``, as ``mlflow models serve`` answers.

With a column signature, rows without column names get the signature's, and columns are cast to
the signature's types (JSON has no int64/float64 distinction, MLflow's schema check has). Bad
input is a 400 answer that says what was wrong. Only the standard library is imported at module
level: pandas and numpy come with the model's environment and are imported on first use.
"""

# Runs on the model's interpreter (Python 3.8+), hence no zip(strict=) and no X | Y outside
# annotations.
# ruff: noqa: B905
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

__all__ = ["FORMATS", "BadInputError", "init", "parse_request", "run", "to_jsonable"]

#: The request formats, Azure's first; a request holds exactly one of them.
FORMATS = ("input_data", "dataframe_split", "dataframe_records", "instances", "inputs")

# MLflow's column types -> pandas dtypes.
_DTYPES = {
    "long": "int64",
    "integer": "int32",
    "double": "float64",
    "float": "float32",
    "boolean": "bool",
    "string": "object",
}
_EXAMPLE = '{"input_data": {"columns": ["a", "b"], "index": [0], "data": [[1, 2]]}}'

_model: Any = None
_columns: list[tuple[str, str]] | None = None  # (name, type) from the model's signature


class BadInputError(ValueError):
    """The request cannot be turned into model input (answered with 400)."""


def init() -> None:
    """Load the MLflow model and read its input signature."""
    global _model, _columns
    import mlflow.pyfunc

    from ferry.runtime.mlflow_scorer import model_folder

    _model = mlflow.pyfunc.load_model(model_folder())
    _columns = signature_columns(_model)


def signature_columns(model: Any) -> list[tuple[str, str]] | None:
    """(name, type) of each input column of a column-based signature, else ``None``."""
    try:
        schema = model.metadata.get_input_schema()
    except Exception:  # an old or odd model: scoring still works, without the conveniences
        return None
    if schema is None or schema.is_tensor_spec() or not schema.has_input_names():
        return None
    return [
        (str(name), str(getattr(kind, "name", kind)))
        for name, kind in zip(schema.input_names(), schema.input_types())
    ]


def run(raw_data: str) -> Any:
    """Score one request; see the module docstring for the formats."""
    from ferry.runtime.azureml_shims import AMLResponse  # the class Azure's import path gets

    try:
        data, key = parse_request(raw_data, _columns)
    except BadInputError as exc:
        return AMLResponse({"message": str(exc)}, 400, json_str=True)
    predictions = to_jsonable(_model.predict(data))
    return predictions if key == "input_data" else {"predictions": predictions}


def parse_request(raw: str, columns: Sequence[tuple[str, str]] | None) -> tuple[Any, str]:
    """The model input of a request body (a DataFrame or an array) and the format it used.

    Raises:
        BadInputError: not JSON, not exactly one known format, or data that does not fit it.
    """
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise BadInputError(
            f"the request body is not JSON ({exc}); send for example {_EXAMPLE}"
        ) from exc
    keys = [k for k in FORMATS if isinstance(body, dict) and k in body]
    if len(keys) != 1:
        given = sorted(body)[:10] if isinstance(body, dict) else type(body).__name__
        raise BadInputError(
            f"the request must be a JSON object with exactly one of {', '.join(FORMATS)} "
            f"(got {given}); for example {_EXAMPLE}"
        )
    key = keys[0]
    try:
        data = _frame_or_array(key, body[key], columns)
    except BadInputError:
        raise
    except (ValueError, TypeError) as exc:  # pandas/numpy refusing the shape of the data
        raise BadInputError(f"{key} cannot be read as model input: {exc}") from exc
    return data, key


def _frame_or_array(key: str, value: Any, columns: Sequence[tuple[str, str]] | None) -> Any:
    import numpy as np
    import pandas as pd

    names = [name for name, _ in columns] if columns else None
    if key in ("input_data", "dataframe_split") and isinstance(value, dict) and "data" in value:
        rows = value["data"]
        given = value.get("columns")
        frame = pd.DataFrame(
            data=rows, columns=given or _names_for(rows, names), index=value.get("index")
        )
        return _typed(frame, columns)
    if key == "dataframe_split":
        raise BadInputError(
            "dataframe_split must be an object with 'data' (a list of rows), 'columns' and "
            "optionally 'index', as pandas' split orient"
        )
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        return _typed(pd.DataFrame.from_records(value), columns)
    if key == "dataframe_records":
        raise BadInputError("dataframe_records must be a list of objects, one per row")
    if isinstance(value, dict):
        if key == "input_data":
            raise BadInputError(
                "input_data must be an object with 'data' (and 'columns', 'index'), or a list"
            )
        if names is None:  # a tensor model with named inputs
            return {k: np.asarray(v) for k, v in value.items()}
        return _typed(
            pd.DataFrame({k: v if isinstance(v, list) else [v] for k, v in value.items()}), columns
        )
    if not isinstance(value, list):
        raise BadInputError(f"{key} must be a list or an object, not a {type(value).__name__}")
    if names is not None and value and all(isinstance(r, list) for r in value):
        return _typed(pd.DataFrame(value, columns=_names_for(value, names)), columns)
    return np.asarray(value)


def _names_for(rows: Any, names: list[str] | None) -> list[str] | None:
    """The signature's column names for rows given without names, when the widths agree."""
    if not names or not isinstance(rows, list) or not rows or not isinstance(rows[0], list):
        return None
    if len(rows[0]) != len(names):
        raise BadInputError(
            f"rows have {len(rows[0])} values but the model's signature has {len(names)} columns "
            f"({', '.join(names)}); send one value per column, or name the columns"
        )
    return names


def _typed(frame: Any, columns: Sequence[tuple[str, str]] | None) -> Any:
    """``frame`` with the signature's columns cast to its types."""
    if not columns:
        return frame
    missing = [name for name, _ in columns if name not in frame.columns]
    if missing:
        raise BadInputError(
            f"the input lacks column(s) {', '.join(missing)} of the model's signature "
            f"({', '.join(name for name, _ in columns)})"
        )
    for name, kind in columns:
        dtype = _DTYPES.get(kind)
        if dtype is None or str(frame[name].dtype) == dtype:
            continue
        try:
            frame[name] = frame[name].astype(dtype)
        except (ValueError, TypeError) as exc:
            raise BadInputError(f"column {name!r} must hold {kind} values: {exc}") from exc
    return frame


def to_jsonable(predictions: Any) -> Any:
    """Predictions as JSON values: lists for arrays and series, records for frames."""
    if hasattr(predictions, "to_dict") and hasattr(predictions, "columns"):
        return predictions.to_dict(orient="records")
    if hasattr(predictions, "tolist"):
        return predictions.tolist()
    if isinstance(predictions, dict):
        return {str(k): to_jsonable(v) for k, v in predictions.items()}
    if isinstance(predictions, (list, tuple)):
        return [to_jsonable(v) for v in predictions]
    return predictions
