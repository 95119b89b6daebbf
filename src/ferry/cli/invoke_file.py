"""``ferry batch-endpoint invoke --file inputs.yml``: Azure's YAML of a job's inputs and outputs.

The file is the one Azure's docs pass to ``az ml batch-endpoint invoke --file``::

    inputs:
      heart_dataset:
        type: uri_folder
        path: azureml:heart-dataset-unlabeled@latest
    outputs:
      score:
        type: uri_file
        path: azureml://datastores/workspaceblobstore/paths/batch-jobs/run-1/predictions.csv

A model deployment takes one input. The ``score`` output's path becomes ``--output-path``; a
``uri_file`` output also names the output file (its folder is the output path). Local input paths
are relative to the file, as every path in a spec file is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferry.errors import SpecError
from ferry.specs.loader import is_uri, read_yaml

__all__ = ["InvokeFile", "read_invoke_file"]

_INPUT_TYPES = ("uri_folder", "uri_file")
_OUTPUT = "score"


@dataclass(frozen=True)
class InvokeFile:
    """What an inputs file asks for, in the terms of invoke's flags."""

    input_path: str
    input_type: str | None
    output_path: str | None
    output_file_name: str | None


def read_invoke_file(file: Path) -> InvokeFile:
    """Read and check an inputs file; every refusal names the file and the key to fix."""
    data = read_yaml(file)
    data.pop("$schema", None)
    unknown = sorted(set(data) - {"inputs", "outputs"})
    if unknown:
        raise _error(file, f"has {', '.join(unknown)}; it holds only inputs: and outputs:")
    inputs = _mapping(file, data.get("inputs"), "inputs")
    if len(inputs) != 1:
        raise _error(
            file,
            f"names {len(inputs)} inputs ({', '.join(inputs) or 'none'}); a model deployment "
            "takes exactly one, e.g. inputs: {heart_dataset: {type: uri_folder, path: data}}",
        )
    ((key, value),) = inputs.items()
    entry = _entry(file, value, f"inputs.{key}")
    path = entry["path"]
    if not is_uri(path):
        path = str((file.resolve().parent / path).resolve())
    input_type = entry.get("type")
    if input_type is not None and input_type not in _INPUT_TYPES:
        raise _error(
            file, f"inputs.{key}.type is {input_type!r}; use one of {', '.join(_INPUT_TYPES)}"
        )

    output_path = output_file = None
    outputs = _mapping(file, data.get("outputs") or {}, "outputs")
    others = sorted(set(outputs) - {_OUTPUT})
    if others:
        raise _error(
            file, f"names output {', '.join(others)}; a batch job has one output, {_OUTPUT!r}"
        )
    if _OUTPUT in outputs:
        out = _entry(file, outputs[_OUTPUT], f"outputs.{_OUTPUT}")
        output_path = out["path"]
        if out.get("type") == "uri_file":
            output_path, _, output_file = output_path.rstrip("/").rpartition("/")
    return InvokeFile(path, input_type, output_path, output_file)


def _mapping(file: Path, value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _error(file, f"needs {key}: as a mapping of names to {{type, path}}")
    return value


def _entry(file: Path, value: Any, key: str) -> dict[str, str]:
    if not isinstance(value, dict) or not isinstance(value.get("path"), str):
        raise _error(file, f"{key} needs a path: (and optionally type:)")
    return {k: str(v) for k, v in value.items() if v is not None}


def _error(file: Path, problem: str) -> SpecError:
    return SpecError(f"inputs file {file} {problem}.", details={"field": "file"})
