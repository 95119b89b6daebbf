"""A small ``azureml.core`` for scoring scripts written against the v1 SDK (standard library only).

Old batch and online scripts often do ``from azureml.core import Model, Run`` just to find the
model (``Model.get_model_path``) or to log metrics (``Run.get_context().log``). Azure's package
is large and pulls in half of its cloud SDK; Ferry serves these two names when it is absent.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

__all__ = ["Model", "Run"]

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


class _OfflineRun:
    """The run a script sees outside an Azure experiment: metrics go to the worker's log."""

    id = "OfflineRun"
    parent = None
    experiment = None

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

    @staticmethod
    def get_context(allow_offline: bool = True) -> _OfflineRun:
        return _OfflineRun()
