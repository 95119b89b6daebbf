"""Local compute: batch workers as subprocesses of this process, on this machine.

Each worker runs the environment's interpreter on ``ferry.runtime.worker`` with the folder that
holds the ``ferry`` package on ``PYTHONPATH`` (the runtime is standard-library only, so the user's
environment needs nothing from Ferry installed). A worker gets its own session, hence its own
process group: killing the group also ends whatever the user's script started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path
from typing import IO, Literal

import ferry
from ferry.batch.compute import WorkerLaunch
from ferry.runtime.launch import worker_command, worker_env

__all__ = ["LocalCompute", "LocalWorker"]

_PACKAGE_ROOT = str(Path(ferry.__file__).absolute().parents[1])


class LocalWorker:
    """One worker subprocess."""

    def __init__(self, worker_id: str, proc: subprocess.Popen[bytes]) -> None:
        self._worker_id = worker_id
        self._proc = proc

    @property
    def worker_id(self) -> str:
        return self._worker_id

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    def poll(self) -> int | None:
        return self._proc.poll()

    def wait(self, timeout: float) -> int | None:
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self._proc.returncode is not None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            # The group is gone (or was never ours); make sure of the process itself.
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()


def _log(path: Path | None) -> IO[bytes] | int:
    if path is None:
        return subprocess.DEVNULL
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("ab")


class LocalCompute:
    """Starts workers as local subprocesses that connect back over a unix socket."""

    @property
    def transport(self) -> Literal["unix", "tcp"]:
        return "unix"

    def start(self, launch: WorkerLaunch) -> LocalWorker:
        """Start one worker process.

        Raises:
            OSError: the interpreter does not exist or cannot be run.
        """
        argv = worker_command(
            launch.python,
            connect=launch.connect,
            mode="batch",
            entry_script=launch.entry_script,
            code_dir=launch.code_dir,
            worker_id=launch.worker_id,
            logging_level=launch.logging_level,
            user_args=launch.user_args,
        )
        env = worker_env(os.environ, launch.env)
        # The ferry that runs this engine is the one whose runtime the worker must import.
        paths = [_PACKAGE_ROOT, *(p for p in env["PYTHONPATH"].split(os.pathsep) if p)]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        stdout, stderr = _log(launch.stdout), _log(launch.stderr)
        try:
            proc = subprocess.Popen(
                argv,
                cwd=launch.code_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        finally:
            for stream in (stdout, stderr):
                if not isinstance(stream, int):
                    stream.close()
        return LocalWorker(launch.worker_id, proc)
