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

from ferry.environments import ResolvedRequirements, normalize_environment
from ferry.environments.deployment import model_requirements, resolution_policy
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
]


class Deployable(Protocol):
    """What materialising needs from a deployment spec (batch or online)."""

    @property
    def code_configuration(self) -> CodeConfigurationSpec | None: ...

    @property
    def environment(self) -> str | EnvironmentSpec | None: ...

    @property
    def properties(self) -> dict[str, str]: ...


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
