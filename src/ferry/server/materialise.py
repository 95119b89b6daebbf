"""Turn a deployment's references into local things: model and code folders, an interpreter.

Shared by batch jobs (:mod:`ferry.server.job_prepare`) and online deployments
(:mod:`ferry.server.online_prepare`). Anything with ``code_configuration``, ``environment`` and
``properties`` attributes (a batch or online deployment spec) can be materialised.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ferry.environments import (
    ResolutionPolicy,
    ResolvedRequirements,
    model_created_at,
    normalize_conda,
    normalize_environment,
    normalize_requirements,
)
from ferry.errors import InvalidInputError, NotFoundError
from ferry.services.references import SERVER_PYTHON
from ferry.specs.assets import AssetKind, EnvironmentSpec
from ferry.specs.refs import is_asset_ref

if TYPE_CHECKING:
    from ferry.server.workspace import Workspace
    from ferry.specs.batch import CodeConfigurationSpec

__all__ = [
    "Deployable",
    "code_folder",
    "environment_python",
    "materialise",
    "model_requirements",
    "resolution_policy",
]


class Deployable(Protocol):
    """What materialising needs from a deployment spec (batch or online)."""

    @property
    def code_configuration(self) -> CodeConfigurationSpec | None: ...

    @property
    def environment(self) -> str | EnvironmentSpec | None: ...

    @property
    def properties(self) -> dict[str, str]: ...


_RESOLUTION = ("relaxed", "strict")
_PYTHON = ("closest", "strict")


def resolution_policy(spec: Deployable, model_path: Path | None) -> ResolutionPolicy:
    """How closely a deployment's environment follows its spec, from deployment properties.

    By default (``ferry_resolution: relaxed``, also when unset) Ferry builds what conda would:
    unpinned packages resolve as of the MLflow model's save date, else the newest exact pin's
    release date, and an exact pin with no installable wheel moves to the nearest release that
    has one; every change is reported. ``ferry_resolution: strict`` makes any change an error.
    ``ferry_python: strict`` makes a missing Python version an error instead of a notice that
    the closest installed one was used.

    Raises:
        InvalidInputError: a property has a value other than those above.
    """
    resolution = _choice(spec, "ferry_resolution", _RESOLUTION)
    strict_python = _choice(spec, "ferry_python", _PYTHON) == "strict"
    created = model_created_at(model_path) if model_path and model_path.is_dir() else None
    if resolution == "strict":
        return ResolutionPolicy.strict(exclude_newer=created)
    return ResolutionPolicy(exclude_newer=created, strict_python=strict_python)


def _choice(spec: Deployable, name: str, allowed: tuple[str, ...]) -> str:
    value = str(spec.properties.get(name, allowed[0]))
    if value not in allowed:
        raise InvalidInputError(
            f"properties.{name} is {value!r}; it must be one of {', '.join(allowed)} "
            f"(e.g. --set properties.{name}={allowed[-1]}), or left out for {allowed[0]}",
            details={"field": f"properties.{name}"},
        )
    return value


def materialise(workspace: Workspace, record: Any, cache: Path) -> Path:
    """The asset's bytes as a local path: in place on a local datastore, else downloaded once."""
    local = workspace.assets.local_path(record)
    if local is not None:
        return local
    cache.mkdir(parents=True, exist_ok=True)
    existing = list(cache.iterdir())
    return existing[0] if existing else workspace.assets.export(record, cache)


def code_folder(
    workspace: Workspace, spec: Deployable, job_dir: Path, fingerprint: dict[str, Any]
) -> tuple[str | None, str]:
    """(scoring script path, code folder); ``(None, job_dir)`` without code_configuration."""
    if spec.code_configuration is None:
        return None, str(job_dir)
    record = workspace.assets.resolve(AssetKind.CODE, spec.code_configuration.code)
    fingerprint["code"] = [record.name, record.version, record.content_hash]
    folder = materialise(workspace, record, job_dir / "code")
    script = folder / spec.code_configuration.scoring_script
    if not script.is_file():
        raise NotFoundError(
            f"scoring_script {spec.code_configuration.scoring_script!r} is not in the code folder "
            f"{spec.code_configuration.code}; fix code_configuration.scoring_script.",
            details={"field": "code_configuration.scoring_script"},
        )
    return str(script), str(folder)


def environment_python(
    workspace: Workspace,
    spec: Deployable,
    model_path: Path | None,
    log: Callable[[str], None],
    notices: list[str],
    fingerprint: dict[str, Any],
) -> str:
    """The interpreter to run the deployment with, building its environment first if needed."""
    if spec.environment == SERVER_PYTHON:
        notices.append(f"environment {SERVER_PYTHON}: running in the server's interpreter")
        fingerprint["environment"] = SERVER_PYTHON
        return sys.executable
    resolved: ResolvedRequirements
    if isinstance(spec.environment, str) and is_asset_ref(spec.environment):
        record = workspace.assets.resolve(AssetKind.ENVIRONMENT, spec.environment)
        resolved = normalize_environment(
            EnvironmentSpec.model_validate(
                {k: v for k, v in record.spec.items() if k in EnvironmentSpec.model_fields}
                | {"name": record.name}
            )
        )
    elif spec.environment is None and model_path is not None:
        resolved = model_requirements(model_path)
        notices.append("no environment: built from the MLflow model's own requirements")
    else:
        raise InvalidInputError(
            "this deployment has no environment; set environment (azureml:<env>@latest), or "
            f"{SERVER_PYTHON} to use the server's interpreter for development.",
            details={"field": "environment"},
        )
    policy = resolution_policy(spec, model_path)
    built = workspace.environments.ensure(resolved, policy=policy, log=log)
    notices.extend(built.notices)
    notices.extend(f"environment repair: {change}" for change in built.changes)
    fingerprint["environment"] = built.hash
    return str(built.python)


def model_requirements(model_path: Path) -> ResolvedRequirements:
    """An MLflow model's own environment: its conda.yaml as Azure builds it, else requirements.txt.

    conda.yaml comes first: requirements.txt often lists the whole frozen set of the training
    machine (including packages with no wheel for newer Pythons) rather than what is needed.
    """
    conda = model_path / "conda.yaml"
    if conda.is_file():
        return normalize_conda(conda)
    requirements = model_path / "requirements.txt"
    if requirements.is_file():
        return normalize_requirements(requirements)
    raise InvalidInputError(
        "the MLflow model has neither conda.yaml nor requirements.txt; give the deployment an "
        "environment.",
        details={"field": "environment"},
    )
