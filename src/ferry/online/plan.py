"""What the online service needs to start a deployment's replicas, and who makes it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferry.specs.online import OnlineDeploymentSpec
from ferry.workers.compute import Compute
from ferry.workers.spec import WorkerSpec

__all__ = ["Preparer", "ReplicaPlan"]


@dataclass(frozen=True)
class ReplicaPlan:
    """A deployment resolved for serving: what each of its replicas is started with.

    Attributes:
        worker: the replicas' common :class:`WorkerSpec` (``mode="online"``: interpreter,
            script, code folder, variables and secrets); each replica fills in its own
            ``worker_id``, ``connect`` and log file.
        compute: where the replicas run (the server's composition root chose it).
        folder: the deployment's own folder (logs, caches); created by the preparer.
        notices: what the user should know about how it was prepared.
        schemas: the swagger schemas when they are known without importing the script (the
            built-in MLflow scorer's come from the model's signature); else ``None``.
    """

    worker: WorkerSpec
    compute: Compute
    folder: Path
    notices: tuple[str, ...] = field(default=())
    schemas: dict[str, Any] | None = None

    @property
    def log_dir(self) -> Path:
        return self.folder / "logs"

    @property
    def code_dir(self) -> str:
        return self.worker.code_dir


Preparer = Callable[[str, OnlineDeploymentSpec, Callable[[str], None]], ReplicaPlan]
"""``prepare(endpoint, spec, log) -> ReplicaPlan``; blocking (it may build an environment)."""
