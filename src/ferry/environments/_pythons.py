"""Finding the Python interpreters installed on this machine, where a user would look for them,
and choosing the one an environment is built on.

``uv python find`` only sees interpreters on PATH and its own; a pyenv install puts shims on PATH
that answer for one version at a time, so a machine with 3.6 to 3.13 under pyenv looks to uv as
if it had one. Ferry looks in every usual place itself, in this order (the first place that
holds a version wins a tie):

1. ``FERRY_PYTHONS``: a search path (``:``-separated) of interpreters, of folders holding
   ``bin/python3`` or ``python3``, or of folders of such folders (a ``versions/`` folder);
2. pyenv's ``$PYENV_ROOT/versions/*`` (not its shims, which break when the user switches);
3. uv-managed Pythons (``$UV_PYTHON_INSTALL_DIR``, else ``~/.local/share/uv/python``);
4. conda environments (``$CONDA_PREFIX``, ``~/.conda/environments.txt``, the usual roots);
5. ``python3`` and ``python3.X`` on PATH;
6. ``/usr/bin/python3.X`` and ``/usr/local/bin/python3.X``.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ferry.environments.errors import EnvironmentBuildError

if TYPE_CHECKING:
    from ferry.environments._uv import BuildLog

__all__ = ["RUNTIME_MIN", "Interpreter", "discover", "select_python"]

# Ferry's worker runtime (ferry.runtime, stdlib only) runs on the chosen interpreter; it uses
# dataclasses and typing generics that need 3.8 (tests/environments/test_pythons.py imports it
# on the oldest installed interpreter to keep this true).
RUNTIME_MIN = (3, 8)
_MINORS = range(6, 20)
_PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3])"


@dataclass(frozen=True)
class Interpreter:
    """One installed CPython: its version, its path and where it was found (for messages)."""

    major: int
    minor: int
    patch: int
    path: str
    source: str

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def supported(self) -> bool:
        """Whether Ferry's worker runtime runs on it."""
        return (self.major, self.minor) >= RUNTIME_MIN


def discover(environ: Mapping[str, str] | None = None) -> list[Interpreter]:
    """Every distinct interpreter found, in search order (see the module docstring)."""
    env = os.environ if environ is None else environ
    seen: set[str] = set()
    found: list[Interpreter] = []
    for source, candidate in _candidates(env):
        if "/shims/" in str(candidate) or not os.access(candidate, os.X_OK):
            continue
        try:
            real = str(candidate.resolve())
        except OSError:
            continue
        if real in seen or not Path(real).is_file():
            continue
        seen.add(real)
        version = _version_of(candidate)
        if version is not None:
            found.append(Interpreter(*version, path=str(candidate), source=source))
    return found


def _candidates(env: Mapping[str, str]) -> Iterator[tuple[str, Path]]:
    for entry in filter(None, env.get("FERRY_PYTHONS", "").split(os.pathsep)):
        path = Path(entry).expanduser()
        if path.is_file():
            yield "FERRY_PYTHONS", path
        else:
            yield from (("FERRY_PYTHONS", p) for p in _in_prefix(path))
            for child in _children(path):
                yield from (("FERRY_PYTHONS", p) for p in _in_prefix(child))
    home = Path(env.get("HOME") or Path.home())
    pyenv = Path(env.get("PYENV_ROOT") or home / ".pyenv")
    for prefix in _children(pyenv / "versions"):
        yield from (("pyenv", p) for p in _in_prefix(prefix))
    uv_dir = Path(env.get("UV_PYTHON_INSTALL_DIR") or home / ".local/share/uv/python")
    for prefix in _children(uv_dir):
        yield from (("uv", p) for p in _in_prefix(prefix))
    for prefix in _conda_prefixes(env, home):
        yield from (("conda", p) for p in _in_prefix(prefix))
    for folder in filter(None, env.get("PATH", "").split(os.pathsep)):
        for name in ("python3", *(f"python3.{m}" for m in _MINORS)):
            yield "PATH", Path(folder) / name
    for folder in ("/usr/bin", "/usr/local/bin"):
        for minor in _MINORS:
            yield folder, Path(folder) / f"python3.{minor}"


def _in_prefix(prefix: Path) -> Iterator[Path]:
    """The interpreter of an installation or environment folder (``bin/python3`` or ``python3``)."""
    for name in ("bin/python3", "bin/python", "python3"):
        path = prefix / name
        if path.is_file():
            yield path
            return


def _children(folder: Path) -> list[Path]:
    try:
        return sorted((p for p in folder.iterdir() if p.is_dir()), reverse=True)
    except OSError:
        return []


def _conda_prefixes(env: Mapping[str, str], home: Path) -> Iterator[Path]:
    if env.get("CONDA_PREFIX"):
        yield Path(env["CONDA_PREFIX"])
    try:
        listed = (home / ".conda" / "environments.txt").read_text(encoding="utf-8").splitlines()
    except OSError:
        listed = []
    yield from (Path(line.strip()) for line in listed if line.strip())
    roots = [Path(env["CONDA_ROOT"])] if env.get("CONDA_ROOT") else []
    roots += [home / n for n in ("miniconda3", "anaconda3", "miniforge3", "mambaforge")]
    roots += [Path("/opt/conda")]
    for root in roots:
        yield root
        yield from _children(root / "envs")


def _version_of(python: Path) -> tuple[int, int, int] | None:
    try:
        done = subprocess.run(
            [str(python), "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", done.stdout.strip())
    if done.returncode != 0 or match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3])


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
