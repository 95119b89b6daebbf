"""``load_model``, ``load_batch_deployment`` ...: Azure ML v2 YAML files as SDK entities.

As ``azure.ai.ml``'s ``load_*``: ``source`` is a path or an open file; relative paths in the
file resolve against its folder (or ``relative_origin``); ``params_override`` is a list of
``{"dotted.key": value}`` mappings applied in order, as ``az ml ... --set`` does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any, TypeVar

import yaml

from ferry.client.batch_entities import BatchDeployment, BatchEndpoint, ModelBatchDeployment
from ferry.client.entities import AmlCompute, Compute, Data, Environment, Model
from ferry.client.online_entities import OnlineDeployment, OnlineEndpoint
from ferry.errors import SpecError
from ferry.specs.base import Spec
from ferry.specs.loader import read_yaml, spec_from_data

__all__ = [
    "load_batch_deployment",
    "load_batch_endpoint",
    "load_compute",
    "load_data",
    "load_environment",
    "load_model",
    "load_online_deployment",
    "load_online_endpoint",
]

S = TypeVar("S", bound=Spec)
Source = str | os.PathLike[str] | IO[Any]


def _read(
    source: Source,
    relative_origin: str | None,
    params_override: list[dict[str, Any]] | None,
) -> tuple[dict[str, Any], str, Path]:
    """(data with the overrides applied, where it came from, folder for relative paths)."""
    if hasattr(source, "read"):
        data = yaml.safe_load(source.read()) or {}
        where, base = str(getattr(source, "name", "<stream>")), Path.cwd()
        if not isinstance(data, dict):
            raise SpecError(f"{where} must hold a YAML mapping (key: value lines).")
    else:
        path = Path(os.fspath(source))
        data, where, base = read_yaml(path), str(path), path.resolve().parent
    if relative_origin is not None:
        base = Path(relative_origin).resolve()
    for override in params_override or []:
        for key, value in override.items():
            _set_dotted(data, key, value)
    return data, where, base


def _load(
    cls: type[S],
    source: Source,
    relative_origin: str | None,
    params_override: list[dict[str, Any]] | None,
) -> S:
    data, where, base = _read(source, relative_origin, params_override)
    return spec_from_data(cls, data, source=where, base_dir=base)


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    target = data
    for part in parents:
        nested = target.get(part)
        target[part] = nested = dict(nested) if isinstance(nested, dict) else {}
        target = nested
    target[leaf] = value


def load_model(
    source: Source,
    *,
    relative_origin: str | None = None,
    params_override: list[dict[str, Any]] | None = None,
    **kwargs: Any,
) -> Model:
    """A Model from a model YAML file (``path`` relative to the file)."""
    return _load(Model, source, relative_origin, params_override)


def load_data(
    source: Source,
    *,
    relative_origin: str | None = None,
    params_override: list[dict[str, Any]] | None = None,
    **kwargs: Any,
) -> Data:
    """A Data asset from a data YAML file."""
    return _load(Data, source, relative_origin, params_override)


def load_environment(
    source: Source,
    *,
    relative_origin: str | None = None,
    params_override: list[dict[str, Any]] | None = None,
    **kwargs: Any,
) -> Environment:
    """An Environment from an environment YAML file (``conda_file``, ``image`` or ``build``)."""
    return _load(Environment, source, relative_origin, params_override)


def load_compute(
    source: Source,
    *,
    relative_origin: str | None = None,
    params_override: list[dict[str, Any]] | None = None,
    **kwargs: Any,
) -> Compute:
    """A compute from a compute YAML file; ``type: amlcompute`` gives an :class:`AmlCompute`."""
    data, where, base = _read(source, relative_origin, params_override)
    if str(data.get("type", "")).lower() == "amlcompute":
        data.pop("type")
        return spec_from_data(AmlCompute, data, source=where, base_dir=base)
    return spec_from_data(Compute, data, source=where, base_dir=base)


def load_batch_endpoint(
    source: Source,
    *,
    relative_origin: str | None = None,
    params_override: list[dict[str, Any]] | None = None,
    **kwargs: Any,
) -> BatchEndpoint:
    """A BatchEndpoint from a batch endpoint YAML file."""
    return _load(BatchEndpoint, source, relative_origin, params_override)


def load_batch_deployment(
    source: Source,
    *,
    relative_origin: str | None = None,
    params_override: list[dict[str, Any]] | None = None,
    **kwargs: Any,
) -> BatchDeployment:
    """A batch deployment from its YAML file: a ModelBatchDeployment when it has ``settings:``,
    else a BatchDeployment in the legacy form."""
    data, where, base = _read(source, relative_origin, params_override)
    cls = ModelBatchDeployment if "settings" in data else BatchDeployment
    return spec_from_data(cls, data, source=where, base_dir=base)


def load_online_endpoint(
    source: Source,
    *,
    relative_origin: str | None = None,
    params_override: list[dict[str, Any]] | None = None,
    **kwargs: Any,
) -> OnlineEndpoint:
    """A ManagedOnlineEndpoint from an online endpoint YAML file."""
    return _load(OnlineEndpoint, source, relative_origin, params_override)


def load_online_deployment(
    source: Source,
    *,
    relative_origin: str | None = None,
    params_override: list[dict[str, Any]] | None = None,
    **kwargs: Any,
) -> OnlineDeployment:
    """A ManagedOnlineDeployment from an online deployment YAML file."""
    return _load(OnlineDeployment, source, relative_origin, params_override)
