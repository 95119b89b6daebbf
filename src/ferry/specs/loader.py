"""Load specs from YAML files, dicts and ``--set key=value`` overrides."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from ferry.errors import InvalidInputError, NotFoundError, SpecError
from ferry.specs.base import Spec, spec_error

__all__ = ["apply_overrides", "is_uri", "load_spec", "read_yaml", "spec_from_data"]

S = TypeVar("S", bound=Spec)

_URI_PREFIXES = (
    "azureml:",
    "http://",
    "https://",
    "s3://",
    "az://",
    "abfs://",
    "abfss://",
    "wasbs://",
    "gs://",
    "file://",
    "memory://",
)


#: ``is_uri`` as a JSON Schema pattern.
URI_PATTERN = "^(" + "|".join(re.escape(prefix) for prefix in _URI_PREFIXES) + ")"


def is_uri(text: str) -> bool:
    """True when ``text`` points into a datastore or the web rather than at a local path."""
    return text.startswith(_URI_PREFIXES)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, naming the file and line on a syntax error."""
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(
            f"spec file {str(file)!r} does not exist; check the path passed to -f/--file.",
            details={"field": "file", "path": str(file)},
        )
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(
            f"{file} is not valid YAML{where}: {problem}; fix the syntax and retry.",
            details={"file": str(file)},
        ) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(
            f"{file} must hold a YAML mapping (key: value lines), not a {type(data).__name__}.",
            details={"file": str(file)},
        )
    return data


_YAML11_WORDS = {"yes", "no", "on", "off", "y", "n"}


def _parse_scalar(text: str) -> Any:
    """``--set`` values are YAML scalars: ``3`` is an int, ``true`` a bool, ``a`` a string.

    YAML 1.1's yes/no/on/off stay strings: ``--set FLAG=yes`` means the word, not a boolean.
    """
    if text == "" or text.strip().lower() in _YAML11_WORDS:
        return text
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b=value`` assignments (az's ``--set``) to a copy of ``data``."""
    result: dict[str, Any] = dict(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(
                f"--set {item!r} is not key=value; write for example --set description=hello.",
                details={"field": "--set", "value": item},
            )
        parts = key.strip().split(".")
        target = result
        for part in parts[:-1]:
            nested = target.get(part)
            nested = dict(nested) if isinstance(nested, dict) else {}
            target[part] = nested
            target = nested
        target[parts[-1]] = _parse_scalar(raw)
    return result


def _resolve_local_paths(data: dict[str, Any], fields: tuple[str, ...], base: Path) -> None:
    for dotted in fields:
        *parents, leaf = dotted.split(".")
        holder: Any = data
        for part in parents:
            holder = holder.get(part) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and isinstance(holder.get(leaf), str):
            value = holder[leaf]
            if value and not is_uri(value) and not Path(value).is_absolute():
                holder[leaf] = str((base / value).resolve())


def _nested_specs(annotation: Any) -> list[type[Spec]]:
    """Spec classes inside a field's annotation (``X``, ``X | None``, ``str | X``)."""
    candidates = typing.get_args(annotation) or (annotation,)
    return [c for c in candidates if isinstance(c, type) and issubclass(c, Spec)]


def _resolve_tree(cls: type[Spec], data: dict[str, Any], base: Path) -> dict[str, Any]:
    data = dict(data)
    _resolve_local_paths(data, cls.path_fields, base)
    for name, field in cls.model_fields.items():
        key = field.alias if field.alias and field.alias in data else name
        if isinstance(data.get(key), dict):
            for sub in _nested_specs(field.annotation):
                data[key] = _resolve_tree(sub, data[key], base)
                break
    return data


def spec_from_data(
    cls: type[S], data: dict[str, Any], *, source: str | None = None, base_dir: Path | None = None
) -> S:
    """Validate ``data`` as ``cls``; relative local paths resolve against ``base_dir``."""
    if base_dir is not None:
        data = _resolve_tree(cls, data, base_dir)
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        # BatchDeploymentSpec -> "batch deployment spec": the user's words, not the class.
        what = re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__.removesuffix("Spec")).lower()
        what += " spec"
        raise spec_error(exc, what=what, source=source, model=cls) from exc


def load_spec(cls: type[S], file: str | Path, overrides: list[str] | None = None) -> S:
    """Load a spec from a YAML file (Azure v2 files work as they are), then apply ``--set``."""
    path = Path(file)
    data = apply_overrides(read_yaml(path), overrides or [])
    return spec_from_data(cls, data, source=str(path), base_dir=path.resolve().parent)
