"""Running uv: finding the executable, streaming its output to the build log, picking a Python."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from ferry.environments.errors import EnvironmentBuildError, UvNotFoundError

__all__ = ["BuildLog", "Uv", "UvResult", "find_uv", "select_python"]

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


@dataclass(frozen=True)
class _Installed:
    major: int
    minor: int
    patch: int
    path: str

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def select_python(uv: Uv, request: str, *, strict: bool, log: BuildLog) -> tuple[str, list[str]]:
    """The interpreter to build on, and notices; falls back to the closest installed version.

    ``uv python find`` decides whether the request is met (downloads are off). When it is not,
    the installed CPython whose minor version is nearest (newer on a tie) is used with a notice,
    or, with ``strict``, an :class:`EnvironmentBuildError` is raised. A patch-level difference
    (3.8.5 asked, 3.8.18 installed) counts as met under ``strict``.
    """
    found = uv.capture(["python", "find", "--system", request], log)
    if found.returncode == 0 and found.stdout.strip():
        return found.stdout.strip().splitlines()[-1], []
    listing = uv.capture(["python", "list", "--only-installed", "--output-format", "json"], log)
    installed = _parse_listing(listing.stdout)
    wanted = re.search(r"(\d+)\.(\d+)", request)
    if wanted is None or not installed:
        raise EnvironmentBuildError(
            f"no Python interpreter matching {request!r} is installed, and none to fall back to: "
            f"install one (e.g. 'uv python install {request}')",
            details={"field": "python_version", "python": request},
        )
    major, minor = int(wanted[1]), int(wanted[2])
    same_major = [p for p in installed if p.major == major] or installed
    # nearest minor, newer on a tie, newest patch; a real path over a pyenv shim, which breaks
    # when the user switches pyenv versions
    best = min(
        same_major,
        key=lambda p: (abs(p.minor - minor), -p.minor, -p.patch, "/shims/" in p.path),
    )
    available = ", ".join(sorted({p.version for p in installed}))
    if strict and (best.major, best.minor) != (major, minor):
        raise EnvironmentBuildError(
            f"Python {request} is not installed on this machine (installed: {available}) and the "
            f"resolution policy is strict_python: install it (e.g. 'uv python install "
            f"{major}.{minor}') or drop strict_python to build on the closest version",
            details={"field": "python_version", "python": request, "installed": available},
        )
    notice = (
        f"Python {request} is not installed on this machine; using Python {best.version}, the "
        f"closest installed version (installed: {available}). Install Python {request} to get "
        "it, or set strict_python to make this an error"
    )
    log.note(notice)
    return best.path, [notice]


def _parse_listing(stdout: str) -> list[_Installed]:
    try:
        entries = json.loads(stdout or "[]")
    except json.JSONDecodeError:
        return []
    out: list[_Installed] = []
    for entry in entries if isinstance(entries, list) else []:
        parts = entry.get("version_parts") or {}
        if entry.get("implementation", "cpython") != "cpython" or not entry.get("path"):
            continue
        try:
            out.append(
                _Installed(
                    int(parts["major"]), int(parts["minor"]), int(parts["patch"]), entry["path"]
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return out
