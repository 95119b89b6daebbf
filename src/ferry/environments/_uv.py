"""Running uv: finding the executable, streaming its output to the build log; picking a Python."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from ferry.environments._pythons import RUNTIME_MIN, Interpreter, discover
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


def select_python(
    request: str, *, strict: bool, log: BuildLog, exact: bool = False
) -> tuple[str, list[str]]:
    """The interpreter to build on, and a notice saying which one and why.

    Interpreters are found as :mod:`ferry.environments._pythons` describes. The request's
    ``major.minor`` is met by the installed release nearest its patch (3.8.5 asked, 3.8.18
    installed counts as met, also when strict); a range (``>=3.9``) by the newest installed
    version in it. Otherwise the installed minor nearest the request (newer on a tie) is used
    with a notice, or, with ``strict``, an :class:`EnvironmentBuildError` names the property.
    ``exact`` (``ferry_resolution: strict``) also refuses another patch release than the one
    asked for.
    Versions older than Ferry's worker runtime supports (:data:`RUNTIME_MIN`) are never used.
    """
    installed = discover()
    usable = [p for p in installed if p.supported]
    listing = (
        ", ".join(f"{p.version} ({p.source})" for p in sorted(installed, key=_order)) or "none"
    )
    minimum = ".".join(map(str, RUNTIME_MIN))
    if not usable:
        raise EnvironmentBuildError(
            f"no Python {minimum} or newer is installed on this machine (found: {listing}). "
            f"Fix: install one (e.g. 'uv python install {request}'), or list its folder in "
            "FERRY_PYTHONS",
            details={"field": "python_version", "python": request, "installed": listing},
        )
    wanted = _parse_request(request)
    if wanted is None:  # a range
        matching = [p for p in usable if _in_range(p, request)]
        if matching:
            best = max(matching, key=lambda p: (p.minor, p.patch))
            why = f"the newest installed Python in {request}"
            return _chosen(best, request, why, log)
        major, minor, patch = _range_anchor(request)
    else:
        major, minor, patch = wanted
    same = [p for p in usable if (p.major, p.minor) == (major, minor)]
    if same:
        best = min(same, key=lambda p: (abs(p.patch - (patch if patch is not None else 999)),))
        why = "found" if patch is None or best.patch == patch else "the nearest installed patch"
        if exact and patch is not None and best.patch != patch:
            raise EnvironmentBuildError(
                f"Python {request} is not installed (the nearest is {best.version} from "
                f"{best.source}) and ferry_resolution is strict, which allows no change. Fix: "
                f"install Python {request} (e.g. 'pyenv install {request}') or list its folder "
                "in FERRY_PYTHONS, or remove 'ferry_resolution: strict' from the deployment's "
                f"properties to build on {best.version} with a notice",
                details={"field": "python_version", "python": request, "installed": listing},
            )
        return _chosen(best, request, why, log)
    old = [p for p in installed if (p.major, p.minor) == (major, minor) and not p.supported]
    pool = [p for p in usable if p.major == major] or usable
    best = min(pool, key=lambda p: (abs(p.minor - minor), -p.minor, -p.patch))
    if old:
        why = (
            f"Python {old[0].version} is installed ({old[0].source}) but Ferry's worker runtime "
            f"needs Python {minimum} or newer; using the oldest supported installed version"
        )
        best = min(usable, key=lambda p: (p.minor, -p.patch))
    else:
        why = f"Python {request} is not installed (installed: {listing}); using the closest"
    if strict:
        raise EnvironmentBuildError(
            f"Python {request} cannot be used on this machine ({why}: {best.version}) and "
            f"{'ferry_resolution' if exact else 'ferry_python'} is strict. Fix: install Python "
            f"{major}.{minor} (e.g. 'uv python install {major}.{minor}') or list its folder in "
            "FERRY_PYTHONS, or drop 'ferry_python: strict' / 'ferry_resolution: strict' to build "
            "on the closest version",
            details={"field": "python_version", "python": request, "installed": listing},
        )
    return _chosen(best, request, why + "; set 'ferry_python: strict' to make this an error", log)


def _chosen(best: Interpreter, request: str, why: str, log: BuildLog) -> tuple[str, list[str]]:
    notice = f"Python {best.version} from {best.source} ({best.path}) for python={request}: {why}"
    log.note(notice)
    return best.path, [notice]


def _order(p: Interpreter) -> tuple[int, int, int]:
    return p.major, p.minor, p.patch


def _parse_request(request: str) -> tuple[int, int, int | None] | None:
    """``3.8.5`` -> (3, 8, 5), ``3.10`` -> (3, 10, None); ``None`` for a range."""
    match = re.fullmatch(r"=?=?\s*(\d+)\.(\d+)(?:\.(\d+))?(?:\.\*)?", request.strip())
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3]) if match[3] else None


def _range_anchor(request: str) -> tuple[int, int, int | None]:
    """The version a range names first (``>=3.9,<3.12`` -> 3.9): the one to be closest to."""
    found = re.search(r"(\d+)\.(\d+)", request)
    return (int(found[1]), int(found[2]), None) if found else (3, RUNTIME_MIN[1], None)


def _in_range(p: Interpreter, request: str) -> bool:
    """Whether ``p`` satisfies every clause of a specifier such as ``>=3.9,<3.12``."""
    ops = {
        ">=": lambda a, b: a >= b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        "<": lambda a, b: a < b,
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "~=": lambda a, b: a >= b,
    }
    for clause in filter(None, (c.strip() for c in request.split(","))):
        match = re.fullmatch(r"(>=|<=|==|!=|~=|>|<)\s*(\d+(?:\.\d+)*)(?:\.\*)?", clause)
        if match is None:
            return False
        bound = tuple(int(x) for x in match[2].split("."))
        have = (p.major, p.minor, p.patch)[: len(bound)]
        if not ops[match[1]](have, bound):
            return False
    return True
