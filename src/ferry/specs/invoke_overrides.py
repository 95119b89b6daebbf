"""An invoke's setting overrides, from ``params_override``, ``ParameterAssignments`` or Azure's
body, as one flat mapping in Ferry's override names.

Dotted keys nest as Azure documents them for ``params_override``: ``environment_variables.X``,
``compute.instance_count`` (also ``resources.instance_count``), ``retry_settings.max_retries``,
``retry_settings.timeout``, ``output_dataset.datastore_id`` and ``output_dataset.path`` (the
latter two become the job's output path). Whole numbers may arrive as text (a published pipeline
sends every parameter as a string). Which keys may be overridden at all is the server's rule
(``ferry.server.job_prepare.OVERRIDABLE``); an unknown key passes through to be refused there.
"""

from __future__ import annotations

import re
from typing import Any

from ferry.errors import SpecError
from ferry.specs.base import stringify_values

__all__ = ["datastore_name", "flatten_overrides", "iso_seconds"]

_ENV = "environment_variables"
_WHOLE_NUMBERS = (
    "max_retries",
    "timeout",
    "mini_batch_size",
    "instance_count",
    "max_concurrency_per_instance",
    "error_threshold",
)
#: Dotted (or nested) keys and the flat override each one sets.
_NESTED = {
    "compute.instance_count": "instance_count",
    "resources.instance_count": "instance_count",
    "retry_settings.max_retries": "max_retries",
    "retry_settings.timeout": "timeout",
}
_ISO = re.compile(
    r"^P(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)$"
)


def flatten_overrides(
    entries: list[tuple[str, dict[str, Any]]],
) -> tuple[dict[str, Any], str | None]:
    """(overrides, output path) from ``(where, mapping)`` entries, later entries winning.

    ``where`` names the part of the request (``params_override``, ``ParameterAssignments``) so
    that an error names the field the caller wrote.
    """
    merged: dict[str, Any] = {}
    env: dict[str, Any] = {}
    store: str | None = None
    path: str | None = None
    for where, mapping in entries:
        for key, value in _expand(mapping):
            field = f"{where}.{key}"
            if key == _ENV:
                if not isinstance(value, dict):
                    raise SpecError(
                        f"{field} must be a mapping of names to values, e.g. "
                        f"{{{_ENV}.INPUT_PARTITION: '2020/08/07'}}.",
                        details={"fields": [field]},
                    )
                env.update(value)
            elif key.startswith(f"{_ENV}."):
                env[key.split(".", 1)[1]] = value
            elif key == "output_dataset.datastore_id":
                store = datastore_name(str(value))
            elif key == "output_dataset.path":
                path = str(value).lstrip("/")
            else:
                flat = _NESTED.get(key, key)
                merged[flat] = _number(flat, value, field) if flat in _WHOLE_NUMBERS else value
    if env:
        merged[_ENV] = stringify_values(env)
    if store is not None and path is None:
        raise SpecError(
            "output_dataset.datastore_id needs output_dataset.path (the folder in the datastore).",
            details={"fields": ["output_dataset.path"]},
        )
    output = None
    if path is not None:
        output = f"azureml://datastores/{store or 'workspaceblobstore'}/paths/{path}"
    return merged, output


def datastore_name(value: str) -> str:
    """``workspaceblobstore`` from itself, ``azureml:workspaceblobstore`` or an ARM id."""
    return value.rstrip("/").rsplit("/datastores/", 1)[-1].removeprefix("azureml:")


def _expand(mapping: dict[str, Any]) -> list[tuple[str, Any]]:
    """Nested mappings of the known groups as dotted keys; everything else as it is."""
    items: list[tuple[str, Any]] = []
    for key, value in mapping.items():
        if key in ("compute", "resources", "retry_settings", "output_dataset") and isinstance(
            value, dict
        ):
            items.extend((f"{key}.{inner}", item) for inner, item in value.items())
        else:
            items.append((str(key), value))
    return items


def _number(key: str, value: Any, field: str) -> int:
    if key == "timeout" and isinstance(value, str) and value.upper().startswith("P"):
        return iso_seconds(value, field=field)
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(value)
        return int(value)
    except (TypeError, ValueError) as exc:
        raise SpecError(
            f"override {key}={value!r} must be a whole number ({field}).",
            details={"fields": [field]},
        ) from exc


def iso_seconds(value: int | str, *, field: str) -> int:
    """Seconds of ``30`` or ISO 8601's ``PT30S``/``PT1M30S`` (Azure's RetrySettings.Timeout)."""
    if isinstance(value, int) or str(value).isdigit():
        return int(value)
    match = _ISO.match(str(value).upper())
    if not match or not any(match.groupdict().values()):
        raise SpecError(
            f"{field}={value!r} is not a duration; use seconds (30) or ISO 8601 (PT30S, PT2M).",
            details={"fields": [field]},
        )
    hours, minutes, seconds = (float(match[part] or 0) for part in ("h", "m", "s"))
    return max(1, round(hours * 3600 + minutes * 60 + seconds))
