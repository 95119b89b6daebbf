"""Installing requirements into a fresh venv, with the policy's retry loop."""

from __future__ import annotations

from pathlib import Path

from ferry.environments._diagnose import Failure, diagnose
from ferry.environments._relax import Plan, install_args, nearest, prefer_wheels, series
from ferry.environments._uv import BuildLog, Uv
from ferry.environments.policy import ResolutionPolicy, uv_timestamp

__all__ = ["InstallFailedError", "install"]

# Each round fixes one package; more broken pins than this means the spec needs a human.
_MAX_ROUNDS = 8
_RELAXABLE = {"build", "no-wheels", "python"}


class InstallFailedError(Exception):
    """uv could not install the requirements (internal: the builder turns it into a user error)."""

    def __init__(self, failure: Failure, changes: list[str], note: str = "") -> None:
        super().__init__(failure.kind)
        self.failure = failure
        self.changes = changes
        self.note = note


def install(
    uv: Uv,
    venv_python: Path,
    requirements: tuple[str, ...],
    policy: ResolutionPolicy,
    *,
    options: list[str],
    python: str,
    workdir: Path,
    log: BuildLog,
) -> list[str]:
    """Install ``requirements`` into the venv; return the changes the policy made.

    Args:
        python: the target's ``major.minor``, for messages.

    Raises:
        InstallFailedError: uv failed and the policy could not (or may not) fix it.
    """
    plan = Plan.start(requirements)
    if policy.relax_pins or policy.refuse_changes:
        prefer_wheels(
            uv, venv_python, plan, policy, options=options, python=python, workdir=workdir, log=log
        )
    moved = [change for change in plan.changes if " → " in change]
    if policy.refuse_changes and moved:
        # strict: refuse before uv spends minutes compiling a release that has no wheel
        raise InstallFailedError(Failure("strict", None, None, ()), moved)
    tried: set[tuple[str, str]] = set()
    for _ in range(_MAX_ROUNDS):
        result = uv.run(install_args(plan, venv_python, policy, options, workdir), log)
        if result.returncode == 0:
            return plan.changes
        failure = diagnose(result.output)
        name, version = failure.package, failure.version
        if _lift_cutoff(plan, policy, failure, log):
            continue
        if (
            not policy.relax_pins
            or failure.kind not in _RELAXABLE
            or name is None
            or version is None
            or (name, version) in tried
        ):
            raise InstallFailedError(failure, plan.changes)
        tried.add((name, version))
        log.note(f"repair: looking for a release of {name} {series(version)}* that installs")
        found = nearest(uv, venv_python, name, version, options, same=False, source=True, log=log)
        if found is None:
            note = (
                f"repair found no release of {name} {series(version)}* "
                f"that installs on Python {python}"
            )
            raise InstallFailedError(failure, plan.changes, note)
        new, has_wheel = found
        log.note(
            "repair: " + plan.move(name, version, new, _reason(failure, python, new, has_wheel))
        )
    raise InstallFailedError(failure, plan.changes, f"gave up after {_MAX_ROUNDS} attempts")


def _lift_cutoff(plan: Plan, policy: ResolutionPolicy, failure: Failure, log: BuildLog) -> bool:
    """A requirement that nothing released before the cut-off meets (``six>=1.16`` as of 2020)
    is resolved without it: the spec asks for something newer, so the date cannot apply to it."""
    name = failure.package
    if (
        failure.kind != "no-version"
        or name is None
        or policy.exclude_newer is None
        or not policy.relax_pins
        or name in plan.exempt
    ):
        return False
    plan.exempt.add(name)
    line = (
        f"{name} → the newest release that fits: no release before the date cut-off "
        f"({uv_timestamp(policy.exclude_newer)[:10]}) meets the requirement, so it is lifted for it"
    )
    plan.changes.append(line)
    log.note("repair: " + line)
    return True


def _reason(failure: Failure, python: str, new: str, has_wheel: bool) -> str:
    got = f"{new} has a wheel" if has_wheel else f"{new} is the nearest release, built from source"
    if failure.kind == "build":
        return f"no wheel for Python {python} and the sdist fails to build; {got}"
    if failure.kind == "python":
        return f"it does not support Python {python}; {got}"
    return f"no wheel for Python {python} and no sdist; {got}"
