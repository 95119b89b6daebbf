"""The user-facing message for a failed install: what failed, uv's own words, and the fix."""

from __future__ import annotations

from pathlib import Path

from ferry.environments._install import InstallFailedError
from ferry.environments.errors import EnvironmentBuildError

__all__ = ["build_error"]


# The user-level ways out, as the README spells them (deployment properties and --set).
_OVERRIDE = "or use another environment ('--set environment=azureml:my-env@latest')"
_UNSTRICT = (
    "remove 'ferry_resolution: strict' from the deployment's properties (by default Ferry moves "
    "such pins to the nearest release with a wheel and reports each change)"
)


def build_error(
    exc: InstallFailedError, *, python: str, log_path: Path, relaxed: bool
) -> EnvironmentBuildError:
    """Turn an internal install failure into the :class:`EnvironmentBuildError` users see.

    ``relaxed`` says whether the policy already repaired pins; otherwise the spec asked for
    ``ferry_resolution: strict``, and dropping it is offered as a fix.
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
            f"version that release supports, {_OVERRIDE}"
            + ("" if relaxed else f", or {_UNSTRICT}"),
        ),
        "strict": (
            f"the environment cannot be built as written on Python {py} and "
            "ferry_resolution is strict: these pins have no wheel for it and would have to move",
            f"{_UNSTRICT}, or pin those releases yourself, {_OVERRIDE}",
        ),
        "no-wheels": (
            f"could not install {pinned} on Python {py}: it has no wheel for this Python "
            "or platform and no source distribution",
            f"pin a release of {pkg} that ships a wheel for Python {py}, or ask for a Python "
            f"version it supports, {_OVERRIDE}",
        ),
        "python": (
            f"could not install {pinned}: it does not support Python {py}",
            f"pin a release of {pkg} that supports Python {py}, or ask for a Python it supports "
            f"(python=X.Y in the conda file), {_OVERRIDE}",
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
    lines = [f"{headline}."]
    if failure.excerpt:
        lines += ["uv said:", *(f"  {line}" for line in failure.excerpt)]
    if exc.note:
        lines.append(f"{exc.note}.")
    if failure.kind == "strict":
        lines += [f"  {change}" for change in exc.changes]
    elif exc.changes:
        lines.append("Ferry had already changed: " + "; ".join(exc.changes))
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
