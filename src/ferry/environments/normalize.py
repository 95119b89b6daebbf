"""Turning an environment spec (a conda file or a requirements list) into plain pip requirements.

The result, :class:`ResolvedRequirements`, is what gets hashed and built. Everything the
translation changed (a conda-only package skipped, ``pytorch`` renamed ``torch``, the Azure
scoring server dropped) is listed in its ``notices`` so the user can see it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ferry.environments import _tables
from ferry.environments._reqlines import canonical_name, parse_conda_spec
from ferry.environments._reqopts import PipLines
from ferry.environments.policy import ResolutionPolicy
from ferry.errors import SpecError
from ferry.specs.assets import EnvironmentSpec

__all__ = [
    "ResolvedRequirements",
    "env_hash",
    "normalize_conda",
    "normalize_environment",
    "normalize_requirements",
]

_HASH_SCHEMA = 2  # 2: conda "=" is a prefix pin; default policy repairs and dates pins


@dataclass(frozen=True)
class ResolvedRequirements:
    """An environment reduced to what uv installs.

    Attributes:
        requirements: normalised pip requirement strings, sorted by name.
        python_version: the requested Python (``"3.8.5"``, ``"3.11"``, ``">=3.9"``), or ``None``
            for the Python Ferry itself runs on.
        notices: human-readable lines about what the translation changed.
        pip_options: index options for uv, in order (``--extra-index-url URL`` and the like).
    """

    requirements: tuple[str, ...]
    python_version: str | None = None
    notices: tuple[str, ...] = ()
    pip_options: tuple[str, ...] = ()


def env_hash(resolved: ResolvedRequirements, policy: ResolutionPolicy | None = None) -> str:
    """A stable content hash of what will be installed and how (notices do not count).

    Equal requirement sets hash equally whatever their original order, spacing or spelling
    (``Scikit_Learn >= 1.0`` and ``scikit-learn>=1.0``), and the policy is part of the hash,
    so a relaxed build never shadows an exact one.
    """
    payload = {
        "schema": _HASH_SCHEMA,
        "requirements": sorted(resolved.requirements),
        "python": resolved.python_version,
        "pip_options": list(resolved.pip_options),
        "policy": (policy or ResolutionPolicy()).fingerprint(),
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def normalize_requirements(
    requirements: Iterable[str] | Path | str, *, python_version: str | None = None
) -> ResolvedRequirements:
    """Normalise a requirements list, or a ``requirements.txt`` file (``-r`` includes followed).

    A ``str`` is a file path, as for :func:`normalize_conda`; pass a list for requirement lines.

    Raises:
        SpecError: a line is not a requirement; ``details["field"]`` names it.
    """
    lines = PipLines("requirements")
    if isinstance(requirements, (str, Path)):
        lines.add_file(Path(requirements))
    else:
        lines.add_lines(requirements, base_dir=None)
    return _finish({}, lines, python_version, [])


def normalize_conda(
    conda: Mapping[str, Any] | Path | str, *, python_version: str | None = None
) -> ResolvedRequirements:
    """Normalise a conda environment file (a path, or its parsed content).

    ``python=3.x`` sets the Python version unless ``python_version`` overrides it. Conda packages
    become pip requirements (``numpy=1.26.4`` -> ``numpy==1.26.4``, ``pytorch`` -> ``torch``,
    channel prefixes dropped); conda-only packages (``cudatoolkit``, ``mkl``, ...) are skipped;
    the ``pip:`` list is taken as written. Where a package is both a conda and a pip dependency,
    the pip entry wins, as it does when conda runs pip last.

    Raises:
        SpecError: the file is missing, not YAML, or has no ``dependencies`` list; the message
            and ``details["field"]`` name the offending entry.
    """
    base_dir: Path | None = None
    if isinstance(conda, (str, Path)):
        path = Path(conda)
        base_dir = path.parent
        content = _load_yaml(path)
    else:
        content = dict(conda)
    deps = content.get("dependencies")
    if not isinstance(deps, list) or not deps:
        raise SpecError(
            "the conda file has no 'dependencies' list: add one, e.g. "
            "'dependencies: [python=3.11, pip, {pip: [numpy==1.26.4]}]'",
            details={"field": "conda_file.dependencies"},
        )
    notices: list[str] = []
    conda_reqs: dict[str, str] = {}
    conda_python: str | None = None
    pip = PipLines("conda_file.dependencies.pip")
    for index, dep in enumerate(deps):
        field = f"conda_file.dependencies[{index}]"
        if isinstance(dep, Mapping):
            pip_list = dep.get("pip")
            if set(dep) != {"pip"} or not isinstance(pip_list, list):
                raise SpecError(
                    f"{field} must be a conda package spec or 'pip: [requirements]', got {dep!r}",
                    details={"field": field},
                )
            pip.field = f"{field}.pip"
            pip.add_lines((str(item) for item in pip_list), base_dir=base_dir)
            continue
        if not isinstance(dep, (str, int, float)):
            raise SpecError(f"{field} is not a package spec: {dep!r}", details={"field": field})
        try:
            spec = parse_conda_spec(str(dep))
        except ValueError as exc:
            raise SpecError(f"{field}: {exc}", details={"field": field}) from exc
        if spec.name == "python":
            conda_python = _python_request(spec.version) or None
            continue
        if spec.name == "pip" or _tables.is_conda_only(spec.name):
            if spec.name != "pip":
                notices.append(
                    f"skipped conda package '{dep}': it is conda-only; "
                    "PyPI wheels bring the native libraries they need"
                )
            continue
        pypi = _tables.CONDA_TO_PYPI.get(spec.name, spec.name)
        name = canonical_name(pypi)
        if pypi != spec.name:
            notices.append(f"conda package '{spec.name}' is '{pypi}' on PyPI")
        conda_reqs[name] = f"{name}{spec.specifier}"
    python = python_version or conda_python
    if python_version and conda_python and python_version != conda_python:
        notices.append(f"the conda file asks for python={conda_python}; using {python_version}")
    return _finish(conda_reqs, pip, python, notices)


def normalize_environment(
    spec: EnvironmentSpec, *, base_dir: Path | None = None
) -> ResolvedRequirements:
    """Normalise a registered environment: its ``conda_file`` (relative to ``base_dir``).

    Ferry builds virtualenvs, not containers, so ``image`` is noted and ignored, and an
    environment with only an image or a Docker ``build`` context cannot be built.

    Raises:
        SpecError: the environment has no ``conda_file``, or the conda file is invalid.
    """
    if spec.conda_file is None:
        raise SpecError(
            f"environment '{spec.name}' has no conda_file: Ferry builds Python environments from "
            "a conda file (Docker images and build contexts are not run); add "
            "'conda_file: conda.yaml' listing the packages your script needs",
            details={"field": "conda_file"},
        )
    conda: Mapping[str, Any] | Path
    if isinstance(spec.conda_file, str):
        conda = Path(spec.conda_file)
        if base_dir is not None and not conda.is_absolute():
            conda = base_dir / conda
    else:
        conda = spec.conda_file
    resolved = normalize_conda(conda)
    if spec.image:
        note = f"base image '{spec.image}' is not used: Ferry runs the conda file in a virtualenv"
        resolved = ResolvedRequirements(
            resolved.requirements,
            resolved.python_version,
            (note, *resolved.notices),
            resolved.pip_options,
        )
    return resolved


def _finish(
    conda_reqs: dict[str, str],
    pip: PipLines,
    python: str | None,
    notices: list[str],
) -> ResolvedRequirements:
    """Merge conda and pip requirements, apply the Azure table, sort."""
    for name, pip_req in pip.requirements:
        conda_req = conda_reqs.pop(name, None)
        if conda_req is not None and conda_req != name and conda_req != pip_req:
            notices.append(f"'{conda_req}' (conda) is overridden by '{pip_req}' (pip)")
    merged = [*conda_reqs.items(), *pip.requirements]
    notices.extend(pip.notices)
    kept: list[tuple[str, str]] = []
    wants_werkzeug = False
    for name, req in merged:
        reason = _tables.AZURE_DROPPED.get(name)
        if reason is None:
            kept.append((name, req))
            continue
        notices.append(f"dropped '{req}': {reason}")
        wants_werkzeug = wants_werkzeug or name in _tables.AZURE_NEEDS_WERKZEUG
    if wants_werkzeug and all(name != "werkzeug" for name, _ in kept):
        kept.append(("werkzeug", "werkzeug"))
        notices.append("added 'werkzeug': Ferry's @rawhttp request objects need it")
    kept.sort()
    unique = tuple(dict.fromkeys(req for _, req in kept))
    return ResolvedRequirements(unique, python, tuple(notices), pip.flat_options())


def _python_request(version: str) -> str:
    """``3.8.*`` -> ``3.8``; ranges and plain versions stay as written (uv understands both)."""
    return version.removesuffix(".*").removesuffix("*")


def _load_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SpecError(
            f"conda file {path} does not exist: check the conda_file path",
            details={"field": "conda_file"},
        )
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(
            f"conda file {path} is not valid YAML: {exc}", details={"field": "conda_file"}
        ) from exc
    if not isinstance(content, dict):
        raise SpecError(
            f"conda file {path} must be a YAML mapping with 'dependencies:', "
            f"got {type(content).__name__}",
            details={"field": "conda_file"},
        )
    return content
