"""Building and caching virtualenvs: one folder per environment hash under a root folder.

Layout of ``root``::

    <hash>/                 a finished venv (bin/python, lib/...), moved into place in one rename
        .ferry-env.json     completion marker and metadata; its presence means "ready"
        build.log           uv's output for the build
        ferry-requirements.txt, ferry-constraints.txt, ferry-freeze.txt
        ferry-recipe.json   what another machine needs to build the same hash (recipe.py)
    .tmp/<hash>-<id>/       builds in progress (removed on failure, renamed on success)
    .locks/<hash>.lock      one lock file per hash (fcntl), so threads and processes build once
    .failed/<hash>-<time>.log   logs of failed builds, kept for the error message

A warm ``ensure()`` reads the marker and returns: no lock, no subprocess.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ferry.environments._dates import newest_pin_date
from ferry.environments._diagnose import diagnose
from ferry.environments._install import InstallFailedError, install
from ferry.environments._messages import build_error
from ferry.environments._pythons import select_python
from ferry.environments._uv import BuildLog, Uv, find_uv
from ferry.environments.errors import EnvironmentBuildError
from ferry.environments.normalize import ResolvedRequirements, env_hash
from ferry.environments.policy import ResolutionPolicy, uv_timestamp
from ferry.environments.recipe import RECIPE_FILE, to_recipe

__all__ = ["BuiltEnvironment", "EnvironmentBuilder"]

_MARKER = ".ferry-env.json"
_MARKER_SCHEMA = 1


@dataclass(frozen=True)
class BuiltEnvironment:
    """A ready virtualenv.

    Attributes:
        hash: the environment hash (:func:`~ferry.environments.env_hash`), also its folder name.
        path: the venv folder.
        python: the venv's interpreter; run the user's code with it.
        python_version: the interpreter's full version, e.g. ``3.11.7``.
        notices: what the spec translation and the Python fallback changed, for the user.
        changes: what the resolution policy changed (empty without ``relax_pins``).
        log_path: uv's output for this build.
        reused: ``True`` when the environment was already built (by this or another process).
    """

    hash: str
    path: Path
    python: Path
    python_version: str
    notices: tuple[str, ...]
    changes: tuple[str, ...]
    log_path: Path
    reused: bool = False


class EnvironmentBuilder:
    """Builds environments with uv into ``root`` and reuses them by content hash.

    Args:
        root: folder holding one sub-folder per environment (created if missing).
        uv_cache_dir: uv's wheel cache, shared by every build (default: uv's own, or
            ``UV_CACHE_DIR``). Keep it on the same filesystem as ``root`` so installs hard-link.
        uv_bin: the uv executable (default: the ``uv`` Python package's, else ``uv`` on PATH).
    """

    def __init__(
        self, root: Path, *, uv_cache_dir: Path | None = None, uv_bin: str | Path | None = None
    ) -> None:
        self.root = Path(root)
        self.uv_cache_dir = uv_cache_dir
        self._uv_bin = str(uv_bin) if uv_bin is not None else None

    def path_for(
        self, resolved: ResolvedRequirements, policy: ResolutionPolicy | None = None
    ) -> Path:
        """Where the environment for ``resolved`` lives (built or not)."""
        return self.root / env_hash(resolved, policy)

    def ensure(
        self,
        resolved: ResolvedRequirements,
        *,
        policy: ResolutionPolicy | None = None,
        log: Callable[[str], None] | None = None,
    ) -> BuiltEnvironment:
        """Return the environment for ``resolved``, building it first if needed.

        Safe to call from many threads and processes at once: one builds, the others wait for
        it and reuse the result.

        Args:
            resolved: the normalised requirements.
            policy: how strictly to follow them (default: exactly).
            log: called with each line of build output as it happens (uv's and Ferry's).

        Raises:
            EnvironmentBuildError: a requirement cannot be installed (the message has uv's
                error lines and names the package), or the Python version is missing under
                ``strict_python``. Nothing is left in the cache; the log is kept in ``.failed/``.
            UvNotFoundError: uv is not installed.
        """
        policy = policy or ResolutionPolicy()
        digest = env_hash(resolved, policy)
        ready = self._ready(digest)
        if ready is not None:
            return ready
        with self._lock(digest):
            ready = self._ready(digest)  # another thread or process may have built it meanwhile
            if ready is not None:
                return ready
            return self._build(digest, resolved, policy, log)

    def _ready(self, digest: str) -> BuiltEnvironment | None:
        path = self.root / digest
        try:
            meta = json.loads((path / _MARKER).read_text(encoding="utf-8"))
            python = path / meta["python"]
            env = BuiltEnvironment(
                hash=digest,
                path=path,
                python=python,
                python_version=str(meta["python_version"]),
                notices=tuple(meta["notices"]),
                changes=tuple(meta["changes"]),
                log_path=path / "build.log",
                reused=True,
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        # a venv whose base interpreter was uninstalled is rebuilt (under the lock)
        return env if python.exists() else None

    @contextmanager
    def _lock(self, digest: str) -> Iterator[None]:
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        # flock locks belong to the open file description, so a separate open() per call
        # excludes other threads of this process as well as other processes
        with (locks / f"{digest}.lock").open("a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _build(
        self,
        digest: str,
        resolved: ResolvedRequirements,
        policy: ResolutionPolicy,
        callback: Callable[[str], None] | None,
    ) -> BuiltEnvironment:
        final = self.root / digest
        tmp_root = self.root / ".tmp"
        tmp_root.mkdir(parents=True, exist_ok=True)
        for stale in tmp_root.glob(f"{digest}-*"):  # left by a build that crashed; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        if final.exists():  # no marker or a dead interpreter: not usable
            shutil.rmtree(final)
        tmp = tmp_root / f"{digest}-{os.getpid()}-{secrets.token_hex(4)}"
        tmp.mkdir()
        started = time.monotonic()
        log = BuildLog(tmp / "build.log", callback)
        try:
            meta = self._build_into(tmp, resolved, policy, log)
            log.note(f"built in {time.monotonic() - started:.1f}s")
        except BaseException as exc:
            log.note(f"build failed: {type(exc).__name__}")
            log.close()
            python = _venv_version(tmp)
            kept = self._keep_failed_log(digest, tmp / "build.log")
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, InstallFailedError):
                raise build_error(
                    exc, python=python, log_path=kept, relaxed=policy.relax_pins
                ) from None
            if isinstance(exc, EnvironmentBuildError):
                exc.details.setdefault("log_path", str(kept))
            raise
        log.close()
        # what a cluster node needs to build this same environment (same hash) for itself
        recipe = to_recipe(resolved, policy)
        (tmp / RECIPE_FILE).write_text(json.dumps(recipe, indent=2), encoding="utf-8")
        (tmp / _MARKER).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        tmp.replace(final)
        ready = self._ready(digest)
        assert ready is not None
        return replace(ready, reused=False)

    def _build_into(
        self, venv: Path, resolved: ResolvedRequirements, policy: ResolutionPolicy, log: BuildLog
    ) -> dict[str, Any]:
        uv = Uv(self._uv_bin or find_uv(), cache_dir=self.uv_cache_dir, cwd=self.root)
        request = resolved.python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
        log.note(f"requirements: {', '.join(resolved.requirements) or '(none)'}")
        base, notices = select_python(
            request, strict=policy.strict_python, exact=policy.refuse_changes, log=log
        )
        # relocatable: the venv is built under .tmp/ and renamed into place, so its entry-point
        # scripts must not hard-code the build path
        venv_args = ["venv", "--relocatable", "--allow-existing", "--python", base, str(venv)]
        created = uv.run(venv_args, log)
        if created.returncode != 0:
            raise InstallFailedError(diagnose(created.output), [])
        version = _venv_version(venv) or request
        python = venv / "bin" / "python"
        policy, dated = _date_cutoff(resolved, policy, log)
        notices += dated
        changes = install(
            uv,
            python,
            resolved.requirements,
            policy,
            options=[*resolved.pip_options, *_find_links()],
            python=".".join(version.split(".")[:2]),
            workdir=venv,
            log=log,
        )
        frozen = uv.capture(["pip", "freeze", "--python", str(python)], log)
        (venv / "ferry-freeze.txt").write_text(frozen.stdout, encoding="utf-8")
        return {
            "schema": _MARKER_SCHEMA,
            "python": "bin/python",
            "python_version": version,
            "python_requested": request,
            "requirements": list(resolved.requirements),
            "notices": [*resolved.notices, *notices],
            "changes": changes,
            "policy": policy.fingerprint(),
            "exclude_newer": uv_timestamp(policy.exclude_newer) if policy.exclude_newer else None,
            "built_at": datetime.now(timezone.utc).isoformat(),
        }

    def _keep_failed_log(self, digest: str, log_path: Path) -> Path:
        failed = self.root / ".failed"
        failed.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        kept = failed / f"{digest}-{stamp}.log"
        try:
            shutil.move(log_path, kept)
        except OSError:
            kept.write_text("(the build log could not be kept)\n", encoding="utf-8")
        return kept


def _date_cutoff(
    resolved: ResolvedRequirements, policy: ResolutionPolicy, log: BuildLog
) -> tuple[ResolutionPolicy, list[str]]:
    """The policy with its ``exclude_newer`` cut-off filled in, and the notice that says why."""
    if policy.exclude_newer is not None:
        reason = (
            f"unpinned packages resolve as of {uv_timestamp(policy.exclude_newer)[:10]}, "
            "when the model was saved"
        )
        log.note(reason)
        return policy, [reason]
    if not policy.date_from_pins:
        return policy, []
    cutoff, line = newest_pin_date(resolved.requirements, resolved.pip_options)
    log.note(line)
    if cutoff is None:
        return policy, []
    return replace(policy, exclude_newer=cutoff.moment), [cutoff.reason]


def _venv_version(venv: Path) -> str:
    """The full Python version uv recorded in ``pyvenv.cfg`` (empty if there is none)."""
    try:
        text = (venv / "pyvenv.cfg").read_text(encoding="utf-8")
    except OSError:
        return ""
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in {"version_info", "version"}:
            return value.strip()
    return ""


def _find_links() -> list[str]:
    """``PIP_FIND_LINKS`` as uv options: pip reads it, uv does not (local wheel folders)."""
    links = os.environ.get("PIP_FIND_LINKS", "").split()
    return [arg for link in links for arg in ("--find-links", link)]
