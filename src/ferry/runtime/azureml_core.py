"""A small ``azureml.core`` for scoring scripts written against the v1 SDK (standard library only).

Old batch and online scripts often do ``from azureml.core import Model, Run`` just to find the
model (``Model.get_model_path``), to log metrics (``Run.get_context().log``), to read the job's
inputs (``Run.input_datasets``) or to read secrets in ``init()``
(``Run.get_context().experiment.workspace.get_default_keyvault().get_secret(name)``). Azure's
package is large and pulls in half of its cloud SDK; Ferry serves these names when it is absent.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from . import keyvault

__all__ = ["Keyvault", "Model", "Run", "Workspace"]

_log = logging.getLogger("azureml.core")


class Model:
    """``Model.get_model_path(name)``: where a deployment's model files are."""

    @staticmethod
    def get_model_path(model_name: str, version: int | None = None, _workspace: Any = None) -> str:
        """The registered model under ``AZUREML_MODEL_DIR``, as Azure resolves it in a deployment.

        A child named after the model wins; with one registered file or folder, that one;
        otherwise the model directory itself.
        """
        root = Path(os.environ.get("AZUREML_MODEL_DIR", "."))
        named = root / model_name
        if named.exists():
            return str(named)
        entries = [p for p in root.iterdir()] if root.is_dir() else []
        return str(entries[0]) if len(entries) == 1 else str(root)


class Keyvault:
    """The workspace's Key Vault, as a deployment sees it: the secrets its deployment grants
    (``properties.ferry_secrets`` and its ``${{secrets.X}}`` variables) from Ferry's store."""

    def get_secret(self, name: str) -> str:
        """The secret's value; a name the deployment does not grant is refused with the fix."""
        return keyvault.get_secret(name)

    def get_secrets(self, secrets: list[str]) -> dict[str, str]:
        return keyvault.get_secrets(secrets)

    def list_secrets(self) -> list[dict[str, str]]:
        """The granted names (as Azure, without values)."""
        return [{"name": name} for name in keyvault.granted_names()]

    def set_secret(self, name: str, value: str) -> None:
        raise PermissionError(
            f"a deployment cannot write secrets; set {name!r} with `ferry secret set {name} "
            "--value ...` and grant it in the deployment's properties.ferry_secrets"
        )


class Workspace:
    """The workspace a deployment runs in; only its Key Vault is reachable from a script."""

    name = os.environ.get("AZUREML_ARM_WORKSPACE_NAME", "ferry")

    @staticmethod
    def from_config(*args: Any, **kwargs: Any) -> Workspace:
        """Inside a deployment the workspace is the one running it, whatever the config says."""
        return Workspace()

    def get_default_keyvault(self) -> Keyvault:
        return Keyvault()


class _Experiment:
    name = "ferry"
    workspace = Workspace()


def _input_datasets() -> dict[str, str]:
    """The job's named inputs as local paths (``FERRY_INPUT_DATASETS``, set by the engine)."""
    text = os.environ.get("FERRY_INPUT_DATASETS")
    return {str(k): str(v) for k, v in json.loads(text).items()} if text else {}


class _InputDatasets:
    """``run.input_datasets`` and ``Run.input_datasets`` alike (v1 scripts use both)."""

    def __get__(self, obj: object, owner: type | None = None) -> dict[str, str]:
        return _input_datasets()


class _OfflineRun:
    """The run a script sees outside an Azure experiment: metrics go to the worker's log, the
    experiment's workspace reads the secrets the deployment grants."""

    id = "OfflineRun"
    parent = None
    experiment = _Experiment()
    input_datasets = _InputDatasets()

    def get_secret(self, name: str) -> str:
        """As ``experiment.workspace.get_default_keyvault().get_secret(name)``."""
        return keyvault.get_secret(name)

    def get_secrets(self, secrets: list[str]) -> dict[str, str]:
        return keyvault.get_secrets(secrets)

    def log(self, name: str, value: Any, description: str = "") -> None:
        _log.info("metric %s=%s", name, value)

    def log_list(self, name: str, value: list[Any], description: str = "") -> None:
        _log.info("metric %s=%s", name, value)

    def log_row(self, name: str, description: str = "", **kwargs: Any) -> None:
        _log.info("metric %s %s", name, kwargs)

    def tag(self, key: str, value: str | None = None) -> None:
        _log.info("tag %s=%s", key, value)

    def get_status(self) -> str:
        return "Running"

    def complete(self) -> None:
        """Nothing to finalise offline."""


class Run:
    """``Run.get_context()`` returns an offline run, as Azure does for local runs."""

    input_datasets = _InputDatasets()

    @staticmethod
    def get_context(allow_offline: bool = True) -> _OfflineRun:
        return _OfflineRun()
