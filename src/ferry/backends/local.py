"""Local compute: workers (batch workers and online replicas) as subprocesses on this machine.

Each worker runs the environment's interpreter on ``ferry.runtime.worker`` with the environment
:func:`ferry.workers.environ.worker_environ` builds from its spec. A worker gets its own session,
hence its own process group: killing the group also ends whatever the user's script started. A
spec asking for GPUs gets its own ones through ``CUDA_VISIBLE_DEVICES`` (:mod:`.gpus`).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
from pathlib import Path
from typing import IO, Literal

from ferry.backends.gpus import GpuSlots
from ferry.workers.data_agent import DataAgent, attach_agent
from ferry.workers.environ import runtime_path, worker_environ
from ferry.workers.spec import WorkerSpec

# runtime_path: re-exported, a Ray node's actor finds the node's runtime through it.
__all__ = ["LocalCompute", "LocalWorker", "runtime_path"]


class LocalWorker:
    """One worker subprocess."""

    def __init__(
        self, worker_id: str, proc: subprocess.Popen[bytes], agent: DataAgent | None = None
    ) -> None:
        self._worker_id = worker_id
        self._proc = proc
        self._agent = agent

    def _ended(self, code: int | None) -> int | None:
        """``code``; once the process has ended, its data agent is closed too."""
        if code is not None and self._agent is not None:
            self._agent.close()
            self._agent = None
        return code

    @property
    def worker_id(self) -> str:
        return self._worker_id

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    def poll(self) -> int | None:
        return self._ended(self._proc.poll())

    def wait(self, timeout: float) -> int | None:
        code = self._proc.poll()
        if code is not None or timeout <= 0:
            return self._ended(code)
        # Popen.wait(timeout) polls with sleeps growing to 50 ms, which made every job end up
        # to ~30 ms late; a pidfd becomes readable the moment the process exits.
        try:
            fd = os.pidfd_open(self._proc.pid)
        except (AttributeError, OSError):  # not Linux >= 5.3: fall back to polling
            try:
                return self._ended(self._proc.wait(timeout))
            except subprocess.TimeoutExpired:
                return None
        try:
            select.select([fd], [], [], timeout)
        finally:
            os.close(fd)
        return self._ended(self._proc.poll())

    def kill(self) -> None:
        if self._proc.returncode is not None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            # The group is gone (or was never ours); make sure of the process itself.
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()


def _open_log(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("ab")


def _is_our_worker(pid: int, worker_id: str, job_dir: str) -> bool:
    """Whether ``pid`` is that worker of that job (pids get reused), from ``/proc``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # gone, not ours, or no /proc: nothing to kill
        return False
    marker = b"FERRY_JOB_DIR=" + os.fsencode(job_dir)
    return marker in environ and os.fsencode(worker_id) in cmdline


class LocalCompute:
    """Starts workers as local subprocesses that connect back over a unix socket.

    Args:
        gpus: this machine's GPUs, shared by the server's computes; a private set (found on
            first use) when None.
    """

    def __init__(self, gpus: GpuSlots | None = None) -> None:
        self._gpus = gpus or GpuSlots()

    @property
    def transport(self) -> Literal["unix", "tcp"]:
        return "unix"

    @property
    def listen_host(self) -> str:
        return "127.0.0.1"

    def kill_orphan(self, worker_id: str, pid: int | None, job_dir: str) -> bool:
        """Kill the process group of a worker left running by an engine that died."""
        if pid is None or not _is_our_worker(pid, worker_id, job_dir):
            return False
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        return True

    def start(self, spec: WorkerSpec) -> LocalWorker:
        """Start one worker process; its stdout and stderr go to the spec's log files (one
        file when both name the same, as an online replica's do).

        Raises:
            OSError: the interpreter does not exist or cannot be run.
        """
        argv = spec.argv()
        spec, agent = attach_agent(spec)
        lease = self._gpus.take(spec.resources.whole_gpus, os.environ)
        extra = {"CUDA_VISIBLE_DEVICES": ",".join(lease.devices)} if lease.devices else None
        env = worker_environ(spec, os.environ, extra)
        opened: list[IO[bytes]] = []
        stdout: IO[bytes] | int = subprocess.DEVNULL
        stderr: IO[bytes] | int = subprocess.DEVNULL
        try:
            if spec.stdout is not None:
                stdout = _open_log(spec.stdout)
                opened.append(stdout)
            if spec.stderr is not None and spec.stderr == spec.stdout:
                stderr = subprocess.STDOUT
            elif spec.stderr is not None:
                stderr = _open_log(spec.stderr)
                opened.append(stderr)
            proc = subprocess.Popen(
                argv,
                cwd=spec.code_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        except BaseException:
            lease.release()
            if agent is not None:
                agent.close()
            raise
        finally:
            for stream in opened:
                stream.close()
        lease.alive = lambda: proc.poll() is None
        return LocalWorker(spec.worker_id, proc, agent)
