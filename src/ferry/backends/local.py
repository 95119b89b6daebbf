"""Local compute: batch workers as subprocesses of this process, on this machine.

Each worker runs the environment's interpreter on ``ferry.runtime.worker``. The runtime is
standard-library only, so the user's environment needs nothing from Ferry installed: the folder
holding the ``ferry`` package goes first on ``PYTHONPATH``. In a source checkout that folder holds
only Ferry; when Ferry is installed it is the server's ``site-packages``, which must not shadow the
user's own packages, so a private copy of just the runtime is put there instead.

A worker gets its own session, hence its own process group: killing the group also ends whatever
the user's script started.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import shutil
import signal
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import IO, Literal

import ferry
from ferry.batch.compute import WorkerLaunch
from ferry.runtime.launch import worker_command

__all__ = ["LocalCompute", "LocalWorker", "runtime_path"]

_SHARED_FOLDERS = ("site-packages", "dist-packages")


def _stage_runtime(package: Path) -> str:
    """A private folder holding ``ferry/__init__.py`` (a stub) and ``ferry/runtime/``."""
    runtime = package / "runtime"
    sources = sorted(runtime.glob("*.py"))
    digest = hashlib.sha256()
    for src in sources:
        digest.update(src.name.encode() + b"\0" + src.read_bytes())
    dest = Path(tempfile.gettempdir()) / f"ferry-runtime-{digest.hexdigest()[:16]}"
    if not (dest / "ferry" / "runtime" / "worker.py").is_file():
        tmp = Path(tempfile.mkdtemp(prefix="ferry-runtime-", dir=dest.parent))
        (tmp / "ferry" / "runtime").mkdir(parents=True)
        (tmp / "ferry" / "__init__.py").write_text('"""Ferry\'s worker runtime (a copy)."""\n')
        for src in sources:
            shutil.copy2(src, tmp / "ferry" / "runtime" / src.name)
        try:
            tmp.rename(dest)
        except OSError:  # another process staged it first: the same content
            shutil.rmtree(tmp, ignore_errors=True)
    return str(dest)


@cache
def runtime_path() -> str:
    """The folder to put first on a worker's ``PYTHONPATH`` so ``ferry.runtime`` imports."""
    package = Path(ferry.__file__).absolute().parent
    root = package.parent
    if root.name in _SHARED_FOLDERS:
        return _stage_runtime(package)
    return str(root)


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
        code = self._proc.poll()
        if code is not None or timeout <= 0:
            return code
        # Popen.wait(timeout) polls with sleeps growing to 50 ms, which made every job end up
        # to ~30 ms late; a pidfd becomes readable the moment the process exits.
        try:
            fd = os.pidfd_open(self._proc.pid)
        except (AttributeError, OSError):  # not Linux >= 5.3: fall back to polling
            try:
                return self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
        try:
            select.select([fd], [], [], timeout)
        finally:
            os.close(fd)
        return self._proc.poll()

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
    """Starts workers as local subprocesses that connect back over a unix socket."""

    @property
    def transport(self) -> Literal["unix", "tcp"]:
        return "unix"

    def kill_orphan(self, worker_id: str, pid: int | None, job_dir: str) -> bool:
        """Kill the process group of a worker left running by an engine that died."""
        if pid is None or not _is_our_worker(pid, worker_id, job_dir):
            return False
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        return True

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
        env = {**os.environ, **launch.env}
        paths = [runtime_path(), *(p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        env.setdefault("PYTHONUNBUFFERED", "1")
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
