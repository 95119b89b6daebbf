"""What the online service needs to start a deployment's replicas, and who makes it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferry.specs.online import OnlineDeploymentSpec

__all__ = ["LaunchPlan", "Preparer"]


@dataclass(frozen=True)
class LaunchPlan:
    """A deployment resolved into local paths: everything a replica process is started with.

    Attributes:
        python: the environment's interpreter.
        entry_script: absolute path of ``score.py``.
        code_dir: the code folder (the script's working directory and first on ``sys.path``).
        env: variables added to the replica's environment (``AZUREML_MODEL_DIR``, the
            deployment's ``environment_variables`` with secrets resolved, ``WORKER_COUNT`` ...).
        folder: the deployment's own folder (logs, caches); created by the preparer.
        notices: what the user should know about how it was prepared.
        schemas: the swagger schemas when they are known without importing the script (the
            built-in MLflow scorer's come from the model's signature); else ``None``.
    """

    python: str
    entry_script: str
    code_dir: str
    env: dict[str, str]
    folder: Path
    notices: tuple[str, ...] = field(default=())
    schemas: dict[str, Any] | None = None

    @property
    def log_dir(self) -> Path:
        return self.folder / "logs"


Preparer = Callable[[str, OnlineDeploymentSpec, Callable[[str], None]], LaunchPlan]
"""``prepare(endpoint, spec, log) -> LaunchPlan``; blocking (it may build an environment)."""
