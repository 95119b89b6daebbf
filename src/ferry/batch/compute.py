"""The Compute port: how the batch engine gets worker processes, wherever they run.

The engine listens on a socket and asks a :class:`Compute` to start workers that connect back to
it (``python -m ferry.runtime.worker --connect ADDRESS --mode batch ...``). Everything after that
(handing out mini-batches, timeouts, retries) happens over the socket, so a backend only starts
and kills processes. Implementations live in :mod:`ferry.backends` (``local.py``: subprocesses on
this machine; later ``ray.py``), which import this module, never the other way round.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

__all__ = ["Compute", "WorkerLaunch", "WorkerProcess", "describe_exit"]


@dataclass(frozen=True)
class WorkerLaunch:
    """Everything needed to start one batch worker."""

    worker_id: str
    #: The interpreter of the deployment's environment.
    python: str
    entry_script: str
    #: Working directory of the worker, first on its ``sys.path``.
    code_dir: str
    #: Where the worker connects: a unix socket path, or ``host:port``.
    connect: str
    logging_level: str
    #: Variables added to the backend's own environment (``AZUREML_*``, the deployment's).
    env: Mapping[str, str] = field(default_factory=dict)
    user_args: tuple[str, ...] = ()
    #: ``logs/user/stdout/<worker>.txt`` and ``logs/user/stderr/<worker>.txt``.
    stdout: Path | None = None
    stderr: Path | None = None


class WorkerProcess(Protocol):
    """A started worker, as the engine sees it."""

    @property
    def worker_id(self) -> str: ...

    @property
    def pid(self) -> int | None: ...

    def poll(self) -> int | None:
        """The exit status once the process ended (negative: killed by that signal), else None."""
        ...

    def wait(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` seconds for the exit; returns :meth:`poll`'s value."""
        ...

    def kill(self) -> None:
        """Kill the worker and everything it started (its process group), without waiting."""
        ...


class Compute(Protocol):
    """Starts batch workers. ``transport`` says which socket the engine must listen on."""

    @property
    def transport(self) -> Literal["unix", "tcp"]: ...

    def start(self, launch: WorkerLaunch) -> WorkerProcess:
        """Start one worker; raises OSError when it cannot even be started."""
        ...

    def kill_orphan(self, worker_id: str, pid: int | None, job_dir: str) -> bool:
        """Kill a worker left behind by an engine that died (found by what the journal recorded
        when it started: ``FERRY_JOB_DIR`` in its environment tells it from other processes).

        Returns:
            True when such a worker was still running and was killed.
        """
        ...


def describe_exit(code: int | None) -> str:
    """``exited with code 1`` / ``was killed by SIGKILL`` / ``is still running``."""
    if code is None:
        return "is still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with code {code}"
