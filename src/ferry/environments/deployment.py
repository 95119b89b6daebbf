"""What a deployment says about its environment, besides the environment itself.

Its ``properties`` choose how closely the build follows the spec (:func:`resolution_policy`), and
an MLflow model deployed without an environment brings its own (:func:`model_requirements`). Used
by the server's preparers and by the local debug loop alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from ferry.environments.normalize import (
    ResolvedRequirements,
    normalize_conda,
    normalize_requirements,
)
from ferry.environments.policy import ResolutionPolicy, model_created_at
from ferry.errors import InvalidInputError

__all__ = ["HasProperties", "model_requirements", "resolution_policy"]


class HasProperties(Protocol):
    """A batch or online deployment spec, as far as its properties go."""

    @property
    def properties(self) -> Mapping[str, str]: ...


_RESOLUTION = ("relaxed", "strict")
_PYTHON = ("closest", "strict")


def resolution_policy(spec: HasProperties, model_path: Path | None) -> ResolutionPolicy:
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


def _choice(spec: HasProperties, name: str, allowed: tuple[str, ...]) -> str:
    value = str(spec.properties.get(name, allowed[0]))
    if value not in allowed:
        raise InvalidInputError(
            f"properties.{name} is {value!r}; it must be one of {', '.join(allowed)} "
            f"(e.g. --set properties.{name}={allowed[-1]}), or left out for {allowed[0]}",
            details={"field": f"properties.{name}"},
        )
    return value


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
