"""Running uv: finding the executable, streaming its output to the build log."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from ferry.environments.errors import UvNotFoundError

__all__ = ["BuildLog", "Uv", "UvResult", "find_uv"]


# Variables that would change what uv installs without entering the environment hash, or point
# uv at the caller's own virtualenv instead of the one being built.
_SCRUBBED = (
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "UV_PYTHON",
    "UV_EXCLUDE_NEWER",
    "UV_RESOLUTION",
    "UV_PRERELEASE",
    "UV_CONSTRAINT",
    "UV_OVERRIDE",
    "UV_BUILD_CONSTRAINT",
    "UV_NO_BUILD",
    "UV_NO_BINARY",
)


def find_uv() -> str:
    """The uv executable: the one the ``uv`` PyPI package ships if installed, else uv on PATH."""
    try:
        module = importlib.import_module("uv")
        found = str(module.find_uv_bin())
        if Path(found).is_file():
            return found
    except (ImportError, FileNotFoundError, AttributeError):
        pass
    on_path = shutil.which("uv")
    if on_path:
        return on_path
    raise UvNotFoundError(
        "uv is not installed: Ferry builds environments with uv. Install it with "
        "'pip install uv' (or see https://docs.astral.sh/uv/) and try again"
    )


class BuildLog:
    """The build log file, plus an optional per-line callback (a job's live log, say)."""

    def __init__(self, path: Path, callback: Callable[[str], None] | None) -> None:
        self.path = path
        self._callback = callback
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def write(self, line: str) -> None:
        """Append one line (without its newline) to the log and pass it to the callback."""
        self._file.write(line + "\n")
        self._file.flush()
        if self._callback is not None:
            self._callback(line)

    def note(self, message: str) -> None:
        """A line from Ferry itself, set apart from uv's output."""
        self.write(f"ferry: {message}")

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> BuildLog:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@dataclass(frozen=True)
class UvResult:
    """What one uv call returned: its exit status and its output (stdout, then stderr)."""

    returncode: int
    output: str
    stdout: str = ""


class Uv:
    """One uv executable with the environment Ferry runs it in."""

    def __init__(self, exe: str, *, cache_dir: Path | None, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
        # Building must never download an interpreter behind the user's back, and the log
        # should hold plain text, not colour codes or progress bars.
        env.update({"UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1", "UV_NO_PROGRESS": "1"})
        # uv wraps its messages to COLUMNS (pytest-xdist sets 80): one line per cause reads
        # better in a job's log and keeps a phrase whole for _diagnose and for the user's grep.
        env["COLUMNS"] = "1000"
        if cache_dir is not None:
            env["UV_CACHE_DIR"] = str(cache_dir)
        self.exe = exe
        self.env = env
        self.cwd = cwd

    def run(self, args: Sequence[str], log: BuildLog) -> UvResult:
        """Run ``uv <args>``, streaming stdout and stderr (merged, in order) into ``log``."""
        log.write("$ uv " + " ".join(args))
        lines: list[str] = []
        with subprocess.Popen(
            [self.exe, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            env=self.env,
            cwd=self.cwd,
        ) as proc:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.rstrip("\n")
                lines.append(line)
                log.write(line)
            code = proc.wait()
        return UvResult(code, "\n".join(lines))

    def capture(self, args: Sequence[str], log: BuildLog) -> UvResult:
        """Run ``uv <args>`` keeping stdout apart (for machine-readable output); log both."""
        log.write("$ uv " + " ".join(args))
        done = subprocess.run(
            [self.exe, *args],
            capture_output=True,
            text=True,
            errors="replace",
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            check=False,
        )
        for line in (done.stdout + done.stderr).splitlines():
            log.write(line)
        return UvResult(done.returncode, done.stdout + done.stderr, done.stdout)
