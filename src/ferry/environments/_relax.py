"""The pin-repairing half of :class:`~ferry.environments.ResolutionPolicy` (on by default).

``relax_pins`` moves a package only inside its ``X.Y.*`` series, and in two situations:

* up front, a version that has no wheel for the target Python (so uv would compile it) moves to
  the nearest patch release that has one. Compiling a three-year-old scikit-learn takes minutes
  and needs the build tools of its day; the next patch release's wheel takes a second;
* after a failed install, a version whose source build failed moves to the nearest patch
  release that has a wheel, else to the next newer one, built from source.

Versions are found by asking uv itself (``uv pip install --dry-run --no-deps``), so private
indexes and ``--find-links`` folders count (wheels uv once built from source do not).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ferry.environments._diagnose import diagnose
from ferry.environments._reqlines import canonical_name
from ferry.environments._uv import BuildLog, Uv
from ferry.environments.policy import ResolutionPolicy, uv_timestamp

__all__ = ["Plan", "install_args", "nearest", "prefer_wheels", "series"]

# A package exempt from --exclude-newer gets this cut-off, far past any upload.
_NO_CUTOFF = "2100-01-01T00:00:00Z"
# an exact pin, or conda's prefix pin of a full version (`scikit-learn=1.2.2` -> `==1.2.2.*`)
_EXACT_PIN = re.compile(
    r"^(?P<name>[a-z0-9-]+)(?:\[[^\]]*\])?==(?P<version>[A-Za-z0-9_.+!-]+?)(?:\.\*)?(;|$)"
)
_PLANNED = re.compile(r"^ \+ (?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+)$", re.MULTILINE)


@dataclass
class Plan:
    """One install attempt: direct requirements, constraints on dependencies, date exemptions."""

    requirements: list[str]
    constraints: dict[str, str] = field(default_factory=dict)
    exempt: set[str] = field(default_factory=set)
    changes: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, requirements: tuple[str, ...]) -> Plan:
        plan = cls(list(requirements))
        # exact pins already name their version; the date cut-off is for everything else, and
        # it would hide wheels published for an old version after the fact
        plan.exempt.update(m["name"] for r in requirements if (m := _EXACT_PIN.match(r)))
        return plan

    def pins(self, name: str) -> bool:
        """Whether the spec pins ``name`` exactly (a direct requirement, not a dependency)."""
        return any((m := _EXACT_PIN.match(r)) and m["name"] == name for r in self.requirements)

    def move(self, name: str, old: str, new: str, reason: str) -> str:
        """Install ``name==new`` instead of ``old``; record and return the change line."""
        direct = False
        for index, req in enumerate(self.requirements):
            match = _EXACT_PIN.match(req)
            if match is not None and match["name"] == name:
                pattern = rf"=={re.escape(match['version'])}(?:\.\*)?(?=[,;]|$)"
                self.requirements[index] = re.sub(pattern, f"=={new}", req, count=1)
                direct = True
                break
        else:
            # a dependency: pin it, or lifting its date cut-off would let it float to the newest
            self.constraints[name] = f"{name}=={new}"
        if new == old:
            line = f"{name}=={old}: {reason}"
        elif direct:
            line = f"{name} {old} → {new}: {reason}"
        else:
            line = f"{name} {old} → {new} (a dependency, not pinned by the spec): {reason}"
        self.exempt.add(name)
        self.changes.append(line)
        return line


def install_args(
    plan: Plan, venv_python: Path, policy: ResolutionPolicy, options: list[str], workdir: Path
) -> list[str]:
    """``uv pip install`` arguments for ``plan`` (requirement files are written to workdir)."""
    req_file = workdir / "ferry-requirements.txt"
    req_file.write_text("".join(f"{r}\n" for r in plan.requirements), encoding="utf-8")
    args = ["pip", "install", "--python", str(venv_python), *options, "-r", str(req_file)]
    if plan.constraints:
        constraints = workdir / "ferry-constraints.txt"
        text = "".join(f"{c}\n" for c in sorted(plan.constraints.values()))
        constraints.write_text(text, encoding="utf-8")
        args += ["--constraints", str(constraints)]
    return args + _cutoff_args(plan, policy)


def _cutoff_args(plan: Plan, policy: ResolutionPolicy) -> list[str]:
    if policy.exclude_newer is None:
        return []
    args = ["--exclude-newer", uv_timestamp(policy.exclude_newer)]
    for name in sorted(plan.exempt):
        args += ["--exclude-newer-package", f"{name}={_NO_CUTOFF}"]
    return args


def prefer_wheels(
    uv: Uv,
    venv_python: Path,
    plan: Plan,
    policy: ResolutionPolicy,
    *,
    options: list[str],
    python: str,
    workdir: Path,
    log: BuildLog,
) -> None:
    """Move every planned package that would be compiled to the nearest patch with a wheel."""
    dry = uv.run([*install_args(plan, venv_python, policy, options, workdir), "--dry-run"], log)
    if dry.returncode != 0:
        return  # the real install reports it, or the failure loop fixes it
    remaining = {canonical_name(m["name"]): m["version"] for m in _PLANNED.finditer(dry.output)}
    check_file = workdir / "ferry-wheel-check.txt"
    no_wheel: list[tuple[str, str]] = []
    wheels_only = ["pip", "install", "--dry-run", "--no-deps", "--only-binary", ":all:"]
    wheels_only += ["--python", str(venv_python), *options, "-r", str(check_file)]
    for _ in range(len(remaining) + 1):
        pins = "".join(f"{n}=={v}\n" for n, v in remaining.items())
        check_file.write_text(pins, encoding="utf-8")
        check = uv.run([*wheels_only, *_cutoff_args(plan, policy)], log)
        failure = diagnose(check.output)
        if check.returncode == 0 or failure.kind != "no-wheels" or failure.package not in remaining:
            break
        no_wheel.append((failure.package, remaining.pop(failure.package)))
    check_file.unlink(missing_ok=True)
    for name, version in no_wheel:
        same = policy.exclude_newer is not None
        found = nearest(uv, venv_python, name, version, options, same=same, source=False, log=log)
        if found is None and policy.exclude_newer is not None and not plan.pins(name):
            # a dependency the spec leaves open, whose series of the cut-off's day has no wheel
            # for this Python (pandas 1.4 on 3.11): a newer series is what conda would take
            plan.exempt.add(name)
            line = (
                f"{name} {version} → the newest release that fits (a dependency, not pinned by "
                f"the spec): no wheel for Python {python} in {series(version)}*, so the date "
                "cut-off is lifted for it"
            )
            plan.changes.append(line)
            log.note("repair: " + line)
            continue
        if found is None:
            log.note(f"repair: no wheel for {name} {series(version)}*; it is built from source")
            continue
        new = found[0]
        if new == version:
            why = f"its wheel for Python {python} was published after the exclude-newer date"
        else:
            why = (
                f"no wheel for Python {python} ({new} has one; {version} was not built from source)"
            )
        log.note("repair: " + plan.move(name, version, new, why))


def nearest(
    uv: Uv,
    venv_python: Path,
    name: str,
    version: str,
    options: list[str],
    *,
    same: bool,
    source: bool,
    log: BuildLog,
) -> tuple[str, bool] | None:
    """The nearest installable release of ``name`` in ``version``'s series, and if it is a wheel.

    Order: the same version's wheel published after the cut-off (``same``), then the nearest
    newer and the nearest older patch release with a wheel, then (``source``) the next newer
    release built from source. The probes run without the date cut-off.
    """
    prefix = series(version)
    if not prefix:
        return None
    newer = f"{name}>={version},!={version},=={prefix}*"
    wheel = ["--only-binary", name]
    probes: list[tuple[str, list[str], bool]] = []
    if same:
        probes.append((f"{name}=={version}", wheel, True))
    probes += [
        (newer, [*wheel, "--resolution", "lowest-direct"], True),
        (f"{name}<{version},=={prefix}*", [*wheel, "--resolution", "highest"], True),
    ]
    if source:
        probes.append((newer, ["--resolution", "lowest-direct"], False))
    for spec, flags, is_wheel in probes:
        args = ["pip", "install", "--dry-run", "--no-deps", "--python", str(venv_python)]
        result = uv.run([*args, *options, *flags, spec], log)
        match = _PLANNED.search(result.output)
        if result.returncode == 0 and match and canonical_name(match["name"]) == name:
            return match["version"], is_wheel
    return None


def series(version: str) -> str:
    """``1.1.2`` -> ``1.1.`` (the prefix of its patch series); empty when there is no minor."""
    match = re.match(r"^(\d+)\.(\d+)", version)
    return f"{match[1]}.{match[2]}." if match else ""
