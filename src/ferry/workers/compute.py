"""The Compute port: how batch jobs and online deployments get worker processes, wherever they run.

The caller listens on a socket and asks a :class:`Compute` to start workers that connect back to
it (``python -m ferry.runtime.worker --connect ADDRESS --mode batch|online ...``). Everything after
that (mini-batches, requests, timeouts, retries) happens over the socket, so a backend only starts,
watches and kills processes. Implementations live in :mod:`ferry.backends` (``local.py``:
subprocesses on this machine; ``ray.py``: Ray actors on a cluster's nodes); the server's
composition root picks one per deployment.
"""

from __future__ import annotations

import signal
from typing import Literal, Protocol

from ferry.workers.spec import WorkerSpec

__all__ = ["Compute", "WorkerProcess", "describe_exit"]


class WorkerProcess(Protocol):
    """A started worker, as its caller sees it."""

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
    """Starts workers. ``transport`` says which socket the caller must listen on."""

    @property
    def transport(self) -> Literal["unix", "tcp"]: ...

    @property
    def listen_host(self) -> str:
        """With transport ``tcp``: the address of this machine that the workers can reach (the
        caller listens there); ``127.0.0.1`` when they run on this machine."""
        ...

    def start(self, spec: WorkerSpec) -> WorkerProcess:
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
    """How a worker ended: ``exited with code 1`` / ``was killed by SIGKILL`` /
    ``is still running``; the same words for batch workers and online replicas."""
    if code is None:
        return "is still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with code {code}"
