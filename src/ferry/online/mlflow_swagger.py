"""The swagger schemas of a no-code MLflow deployment, from its MLmodel signature.

Ferry's built-in scorer (:mod:`ferry.runtime.mlflow_online`) has no decorators to probe, so the
``ServiceInput``/``ServiceOutput`` schemas are written from the model's signature instead, in the
shape :func:`ferry.online.swagger.swagger_document` takes. The input documents Azure's
``input_data`` (pandas' split orient) and MLflow's ``dataframe_split``, ``dataframe_records``,
``instances`` and ``inputs``; each column's JSON type comes from its MLflow type.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

__all__ = ["signature_schemas"]

_TYPES: dict[str, dict[str, str]] = {
    "long": {"type": "integer", "format": "int64"},
    "integer": {"type": "integer", "format": "int32"},
    "double": {"type": "number", "format": "double"},
    "float": {"type": "number", "format": "float"},
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "binary": {"type": "string", "format": "binary"},
    "datetime": {"type": "string", "format": "date-time"},
}
_EXAMPLES: dict[str, Any] = {"integer": 0, "number": 0.0, "string": "", "boolean": False}


def signature_schemas(model_path: Path) -> dict[str, Any]:
    """Schemas for ``swagger_document``: ``{"decorated": True, "input": ..., "output": ...}``."""
    signature = _signature(model_path / "MLmodel")
    inputs, outputs = signature.get("inputs"), signature.get("outputs")
    columns = [c for c in inputs or [] if isinstance(c, dict) and "name" in c]
    if columns and len(columns) == len(inputs or []):
        service_input = _column_input(columns)
    else:
        service_input = _loose_input(inputs)
    return {"decorated": True, "input": service_input, "output": _output(outputs)}


def _signature(mlmodel: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}  # the services layer checked the file when the model was registered
    signature = data.get("signature") if isinstance(data, dict) else None
    if not isinstance(signature, dict):
        return {}
    # MLflow stores each schema as a JSON string inside the YAML.
    parsed: dict[str, Any] = {}
    for key in ("inputs", "outputs"):
        value = signature.get(key)
        try:
            parsed[key] = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError:
            parsed[key] = None
    return parsed


def _type(column: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = dict(_TYPES.get(str(column.get("type")), {}))
    if column.get("required") is False or column.get("optional") is True:
        schema["x-nullable"] = True
    return schema


def _column_input(columns: list[dict[str, Any]]) -> dict[str, Any]:
    names = [str(c["name"]) for c in columns]
    row = {
        "type": "object",
        "required": [n for n, c in zip(names, columns, strict=True) if c.get("required", True)],
        "properties": {n: _type(c) for n, c in zip(names, columns, strict=True)},
    }
    values = [_EXAMPLES.get(_type(c).get("type", "")) for c in columns]
    order = ", ".join(f"{n} ({c.get('type')})" for n, c in zip(names, columns, strict=True))
    split = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "columns": {"type": "array", "items": {"type": "string", "enum": names}},
            "index": {"type": "array", "items": {"type": "integer"}},
            "data": {
                "type": "array",
                "description": f"rows, one value per column in this order: {order}",
                "items": {"type": "array", "items": {}},
            },
        },
    }
    example = {"columns": names, "index": [0], "data": [values]}
    return {
        "type": "object",
        "description": "Exactly one of input_data (Azure's format; answered with a list of "
        "predictions) or MLflow's dataframe_split, dataframe_records, instances, inputs "
        '(answered with {"predictions": [...]}).',
        "properties": {
            "input_data": {**split, "example": example},
            "dataframe_split": split,
            "dataframe_records": {"type": "array", "items": row},
            "instances": {"type": "array", "items": row},
            "inputs": {"type": "array", "items": row},
        },
        "example": {"input_data": example},
    }


def _loose_input(inputs: Any) -> dict[str, Any]:
    any_data: dict[str, Any] = {"description": "the model's input (a tensor signature, or none)"}
    return {
        "type": "object",
        "description": "Exactly one of input_data, dataframe_split, dataframe_records, "
        "instances, inputs.",
        "properties": {
            key: any_data
            for key in ("input_data", "dataframe_split", "dataframe_records", "instances", "inputs")
        },
        **({"x-mlflow-signature": inputs} if inputs else {}),
    }


def _output(outputs: Any) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if isinstance(outputs, list) and len(outputs) == 1 and isinstance(outputs[0], dict):
        item = _type(outputs[0])
    elif isinstance(outputs, list) and outputs and all("name" in o for o in outputs):
        item = {
            "type": "object",
            "properties": {str(o["name"]): _type(o) for o in outputs if isinstance(o, dict)},
        }
    return {
        "type": "array",
        "description": 'One prediction per input row (inside {"predictions": ...} for '
        "MLflow's request formats).",
        "items": item,
    }
