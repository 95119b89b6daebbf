"""What the build cache holds for one environment: its builds, their reports and logs.

One environment can have several builds: the resolution policy is part of the hash, and jobs and
deployments date their pins by their model (``ResolutionPolicy(exclude_newer=...)``). A build
belongs to an environment when it installed the same requirements for the same Python request;
its marker (``.ferry-env.json``) is the resolution report: the interpreter chosen, the notices,
the pins the policy moved, the date cut-off. Failed builds leave only a log, named by hash, so
the failures found are those of the hash the API's build route uses (the default policy).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferry.environments.builder import EnvironmentBuilder
from ferry.environments.normalize import ResolvedRequirements, env_hash

__all__ = ["EnvironmentBuild", "FailedBuild", "builds_of", "failed_builds_of"]

_MARKER = ".ferry-env.json"


@dataclass(frozen=True)
class EnvironmentBuild:
    """A finished build in the cache.

    Attributes:
        hash: the folder name (environment hash, policy included).
        path: the venv folder.
        report: the marker's content (python_version, python_requested, requirements, notices,
            changes, policy, exclude_newer, built_at).
        log_path: uv's and Ferry's output for the build.
        freeze_path: ``pip freeze`` of the result: what was actually installed.
    """

    hash: str
    path: Path
    report: dict[str, Any]
    log_path: Path
    freeze_path: Path


@dataclass(frozen=True)
class FailedBuild:
    """The kept log of a failed build (``.failed/<hash>-<time>.log``)."""

    hash: str
    stamp: str
    log_path: Path


def _python_request(resolved: ResolvedRequirements) -> str:
    # What the builder asks for when the spec names no Python (its own interpreter's series).
    return resolved.python_version or f"{sys.version_info.major}.{sys.version_info.minor}"


def builds_of(
    builder: EnvironmentBuilder, resolved: ResolvedRequirements
) -> list[EnvironmentBuild]:
    """Every finished build of ``resolved``, whatever policy built it, newest first."""
    wanted = list(resolved.requirements)
    request = _python_request(resolved)
    found: list[EnvironmentBuild] = []
    if not builder.root.is_dir():
        return found
    for folder in builder.root.iterdir():
        if folder.name.startswith("."):
            continue  # .tmp, .locks, .failed
        try:
            report = json.loads((folder / _MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not finished, or not a build
        if not isinstance(report, dict):
            continue
        if report.get("requirements") != wanted or report.get("python_requested") != request:
            continue
        found.append(
            EnvironmentBuild(
                hash=folder.name,
                path=folder,
                report=report,
                log_path=folder / "build.log",
                freeze_path=folder / "ferry-freeze.txt",
            )
        )
    return sorted(found, key=lambda b: str(b.report.get("built_at", "")), reverse=True)


def failed_builds_of(
    builder: EnvironmentBuilder, resolved: ResolvedRequirements
) -> list[FailedBuild]:
    """The kept logs of failed builds of ``resolved`` under the default policy, newest first."""
    digest = env_hash(resolved)
    failed = builder.root / ".failed"
    if not failed.is_dir():
        return []
    logs = [
        FailedBuild(hash=digest, stamp=path.stem.removeprefix(f"{digest}-"), log_path=path)
        for path in failed.glob(f"{digest}-*.log")
    ]
    return sorted(logs, key=lambda f: f.stamp, reverse=True)
