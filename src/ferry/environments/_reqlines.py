"""Parsing and normalising single requirement lines, in pip syntax and in conda syntax.

Only the subset of PEP 508 that environment files use in practice is understood: a name, extras,
comma-separated version specifiers or ``@ url``, and an environment marker. Everything else is
rejected with a :class:`ValueError` whose text says what was wrong; the caller adds the field name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CondaSpec", "canonical_name", "normalize_pip_line", "parse_conda_spec"]

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_PIP_LINE = re.compile(rf"^(?P<name>{_NAME})\s*(?:\[(?P<extras>[^\]]*)\])?\s*(?P<rest>.*)$")
_SPECIFIER = re.compile(r"^(~=|===|==|!=|<=|>=|<|>)\s*([A-Za-z0-9_.*+!-]+)$")
_CONDA_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_][A-Za-z0-9._-]*)\s*(?P<version>.*)$")
_VERSION = re.compile(r"^[0-9][A-Za-z0-9_.*+!-]*$")


def canonical_name(name: str) -> str:
    """The PEP 503 form of a project name: lower case, runs of ``-_.`` collapsed to ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def normalize_pip_line(line: str) -> tuple[str, str]:
    """Normalise one pip requirement; returns ``(canonical name, requirement string)``.

    ``numpy >= 1.2 , <2`` becomes ``numpy<2,>=1.2``: the name is canonical, extras and specifiers
    are sorted and whitespace is dropped, so equal requirements hash equally. A conda-style single
    ``=`` (``numpy=1.26.4``), a common slip inside a ``pip:`` list, is read as ``==``.
    """
    text = line.strip()
    match = _PIP_LINE.match(text)
    if match is None:
        raise ValueError(f"{line!r} is not a requirement (expected e.g. 'numpy==1.26.4')")
    name = canonical_name(match["name"])
    extras = ""
    if match["extras"] is not None:
        names = sorted({canonical_name(e) for e in match["extras"].split(",") if e.strip()})
        extras = f"[{','.join(names)}]" if names else ""
    rest = match["rest"].strip()
    if rest.startswith("@"):
        # a direct reference: the URL may itself contain ';', so PEP 508 wants ' ;' before a marker
        url, _, marker = rest[1:].partition(" ;")
        marker = " ".join(marker.split())
        return name, f"{name}{extras} @ {url.strip()}" + (f" ; {marker}" if marker else "")
    specs_text, _, marker = rest.partition(";")
    marker = " ".join(marker.split())
    specs: list[str] = []
    for raw in (part.strip() for part in specs_text.split(",")):
        if not raw:
            continue
        if re.match(r"^=[^=]", raw):
            raw = "=" + raw
        spec = _SPECIFIER.match(raw)
        if spec is None:
            raise ValueError(
                f"{line!r}: {raw!r} is not a version specifier (expected e.g. '==1.2.3' or '>=1.2')"
            )
        specs.append(spec[1] + spec[2])
    if specs_text.strip() and not specs:
        raise ValueError(f"{line!r}: a version specifier is empty")
    return name, f"{name}{extras}{','.join(sorted(specs))}" + (f"; {marker}" if marker else "")


@dataclass(frozen=True)
class CondaSpec:
    """One conda dependency, split into its name and a pip-style version specifier."""

    name: str
    """The conda name, lower case, channel prefix removed."""
    specifier: str
    """A pip specifier such as ``==1.26.4``, ``==3.8.*`` or ``>=1.2,<2``; empty when unversioned."""
    version: str
    """The version as written (``3.8.5``, ``>=3.8``); empty when unversioned."""


def parse_conda_spec(spec: str) -> CondaSpec:
    """Parse a conda match spec such as ``conda-forge::numpy=1.26.4=py311h_0`` or ``numpy >=1.2``.

    Conda's ``=`` is a prefix match, as conda reads it: ``numpy=1.26`` means ``1.26.*`` and
    ``scikit-learn=1.2.2`` means ``1.2.2.*`` (so ``1.2.2`` and its post releases); ``==`` is exact.
    With a build string (``numpy=1.26.4=py311h_0``, or ``numpy 1.26.4 py311h_0``) the version
    is exact; the build string is dropped, it names a conda build, not a version.
    """
    text = spec.strip().split("::")[-1].strip()
    match = _CONDA_SPEC.match(text)
    if match is None:
        raise ValueError(f"{spec!r} is not a conda package spec (expected e.g. 'numpy=1.26.4')")
    name = match["name"].lower()
    raw = match["version"].strip()
    if not raw:
        return CondaSpec(name, "", "")
    if "|" in raw or "[" in raw:
        raise ValueError(
            f"{spec!r}: conda alternatives ('|') and bracket specs have no pip equivalent; "
            "write one version range such as 'numpy>=1.2,<2'"
        )
    if raw.startswith("=="):
        version = raw[2:].split("=")[0].strip()
        return CondaSpec(name, f"=={version}", version)
    if raw.startswith("=") or _VERSION.match(raw.split()[0]):
        # `name=1.2.3=build` and the space form `name 1.2.3 build` both put the version first
        parts = raw.lstrip("=").split("=") if raw.startswith("=") else raw.split()
        version = parts[0].split()[0]
        if not _VERSION.match(version):
            raise ValueError(f"{spec!r}: {version!r} is not a version")
        # `name=V` alone is conda's fuzzy (prefix) match; with a build string, or in the
        # space-separated form, the version is matched exactly, as conda's MatchSpec does
        fuzzy = raw.startswith("=") and len(parts) == 1
        if fuzzy or version.endswith("*"):
            return CondaSpec(name, f"=={_fuzzy(version)}", version)
        return CondaSpec(name, f"=={version}", version)
    specs = []
    for part in (p.strip() for p in raw.split(",")):
        match_spec = _SPECIFIER.match(part)
        if match_spec is None:
            raise ValueError(f"{spec!r}: {part!r} is not a version specifier")
        specs.append(match_spec[1] + match_spec[2])
    return CondaSpec(name, ",".join(sorted(specs)), raw.replace(" ", ""))


def _fuzzy(version: str) -> str:
    """Conda ``=V`` means the prefix ``V.*``, whatever the number of components."""
    return version.rstrip(".*") + ".*"
