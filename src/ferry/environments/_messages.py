"""The user-facing message for a failed install: what failed, uv's own words, and the fix."""

from __future__ import annotations

from pathlib import Path

from ferry.environments._install import InstallFailedError
from ferry.environments.errors import EnvironmentBuildError

__all__ = ["build_error"]


def build_error(
    exc: InstallFailedError, *, python: str, log_path: Path, relaxed: bool
) -> EnvironmentBuildError:
    """Turn an internal install failure into the :class:`EnvironmentBuildError` users see.

    ``relaxed`` says whether the policy already relaxed pins (then it is not offered as a fix).
    """
    failure = exc.failure
    py = ".".join(python.split(".")[:2]) or "this Python"
    pkg = failure.package or "a requirement"
    pinned = f"{pkg}=={failure.version}" if failure.version else pkg
    headline, fix = {
        "build": (
            f"could not install {pinned} on Python {py}: there is no wheel for it and "
            "building it from source failed",
            f"pin a release of {pkg} that ships a wheel for Python {py}, or ask for a Python "
            "version that release supports"
            + ("" if relaxed else ", or build with ResolutionPolicy(relax_pins=True)"),
        ),
        "no-wheels": (
            f"could not install {pinned} on Python {py}: it has no wheel for this Python "
            "or platform and no source distribution",
            f"pin a release of {pkg} that ships a wheel for Python {py}, or ask for a Python "
            "version it supports",
        ),
        "python": (
            f"could not install {pinned}: it does not support Python {py}",
            f"pin a release of {pkg} that supports Python {py}, or ask for a Python it supports",
        ),
        "not-found": (
            f"package '{pkg}' was not found in the package index",
            "check the name for typos; if it lives on a private index, add "
            "'--extra-index-url <url>' to the pip list",
        ),
        "no-version": (
            f"no release of '{pkg}' matches the requirement",
            f"check the version of {pkg} you pinned against the versions the index has",
        ),
    }.get(
        failure.kind,
        (
            f"uv could not install the environment ({pkg})",
            "read uv's message below; the full log has everything uv printed",
        ),
    )
    lines = [f"{headline}.", "uv said:", *(f"  {line}" for line in failure.excerpt)]
    if exc.note:
        lines.append(f"{exc.note}.")
    if exc.changes:
        lines.append("the resolution policy had already changed: " + "; ".join(exc.changes))
    lines.append(f"Fix: {fix}. Full build log: {log_path}")
    return EnvironmentBuildError(
        "\n".join(lines),
        details={
            "package": failure.package,
            "version": failure.version,
            "reason": failure.kind,
            "python": python,
            "log_path": str(log_path),
            "changes": list(exc.changes),
            "uv_output": "\n".join(failure.excerpt),
        },
    )
