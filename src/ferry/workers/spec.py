"""What one worker is started with, for a batch job or an online deployment alike."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ferry.runtime.launch import worker_command

__all__ = ["WorkerMode", "WorkerResources", "WorkerSpec"]

WorkerMode = Literal["batch", "online"]


@dataclass(frozen=True)
class WorkerResources:
    """What one worker reserves (the deployment's ``resources``); ``None``: nothing asked.

    Locally only ``gpus`` matters (it picks the worker's ``CUDA_VISIBLE_DEVICES``); a cluster
    backend turns all three into its own resource requests.
    """

    cpus: float | None = None
    gpus: float | None = None
    #: Bytes.
    memory: int | None = None

    @property
    def whole_gpus(self) -> int:
        """The number of devices a worker is given on this machine (a fraction takes one)."""
        return math.ceil(self.gpus) if self.gpus else 0


@dataclass(frozen=True)
class WorkerSpec:
    """Everything needed to start one worker, whichever :class:`~ferry.workers.compute.Compute`
    starts it.

    ``env`` and ``secret_env`` are both added to the worker's environment by
    :func:`ferry.workers.environ.worker_environ`; they are kept apart so that secrets, resolved in
    memory, are never logged (``repr`` leaves them out) nor written to a job or deployment folder.
    """

    worker_id: str
    #: The interpreter of the deployment's environment.
    python: str
    #: Absolute path of the scoring script.
    entry_script: str
    #: Working directory of the worker, first on its ``sys.path``.
    code_dir: str
    #: Where the worker connects: a unix socket path, or ``host:port``.
    connect: str
    mode: WorkerMode = "batch"
    #: e.g. ``INFO``; batch scripts also get it as ``--logging_level``. None: the runtime's default.
    logging_level: str | None = None
    #: Variables added to the worker's environment (``AZUREML_*``, the deployment's own).
    env: Mapping[str, str] = field(default_factory=dict)
    #: Resolved secrets, added after ``env``; held in memory only.
    secret_env: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: The script's own arguments (``program_arguments`` / ParallelRunStep ``arguments``).
    user_args: tuple[str, ...] = ()
    #: Log files: batch ``logs/user/stdout/<worker>.txt`` and ``.../stderr/<worker>.txt``; an
    #: online replica gives the same file for both. None discards that stream.
    stdout: Path | None = None
    stderr: Path | None = None
    resources: WorkerResources = field(default_factory=WorkerResources)

    def argv(self) -> list[str]:
        """The command line that runs this worker; every backend starts it the same way."""
        return worker_command(
            self.python,
            connect=self.connect,
            mode=self.mode,
            entry_script=self.entry_script,
            code_dir=self.code_dir,
            worker_id=self.worker_id,
            logging_level=self.logging_level,
            user_args=self.user_args,
        )
