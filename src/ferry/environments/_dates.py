"""The date rule: resolve unpinned packages as of the newest exactly pinned release.

Conda solves a whole environment at once, so next to ``scikit-learn=1.2.2`` it picks a numpy that
scikit-learn 1.2.2 was built against. pip and uv pick the newest numpy that the metadata allows
(numpy 2, which 1.2.2's compiled code cannot load). Resolving the packages the spec leaves open as
of the day the newest pinned release came out gives the set that worked together on that day;
exact pins are exempt from the cut-off (they name their version already).

Release dates come from the package index's JSON simple API (PEP 691, with PEP 700 upload times):
the first upload of the pinned version's files. When the index cannot be reached or gives no
times, no cut-off is applied and the build log says so.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import datetime, timezone

from ferry.environments._reqlines import canonical_name

__all__ = ["Cutoff", "exact_pins", "newest_pin_date"]

_PYPI = "https://pypi.org/simple"
_TIMEOUT_S = 15
# `name==1.2.3`, `name[extra]==1.2.3` and conda's prefix pin `name==1.2.3.*` (three components)
_PIN = re.compile(
    r"^(?P<name>[a-z0-9-]+)(?:\[[^\]]*\])?==(?P<version>\d+\.\d+\.\d[A-Za-z0-9_.+!-]*?)(?:\.\*)?(;|$)"
)
_EXACT = re.compile(r"^(?P<name>[a-z0-9-]+)(?:\[[^\]]*\])?==(?P<version>[A-Za-z0-9_.+!-]+)(;|$)")


class Cutoff:
    """A cut-off moment and why it was chosen (for the build log and the job's notices)."""

    def __init__(self, moment: datetime, reason: str) -> None:
        self.moment = moment
        self.reason = reason


def exact_pins(requirements: Sequence[str]) -> list[tuple[str, str]]:
    """``(name, version)`` of every exact pin, conda prefix pins of a full version included."""
    pins: list[tuple[str, str]] = []
    for req in requirements:
        match = _EXACT.match(req) or _PIN.match(req)
        if match is not None:
            pins.append((canonical_name(match["name"]), match["version"]))
    return pins


def newest_pin_date(
    requirements: Sequence[str], pip_options: Sequence[str]
) -> tuple[Cutoff | None, str]:
    """The release date of the newest exactly pinned release, and a line for the build log."""
    pins = exact_pins(requirements)
    if not pins:
        return None, "no exact pins: unpinned packages resolve to the newest releases"
    index = _index_url(pip_options)
    dated: list[tuple[datetime, str, str]] = []
    for name, version in pins:
        moment = _release_date(index, name, version)
        if moment is not None:
            dated.append((moment, name, version))
    if not dated:
        return (
            None,
            f"no release date could be read from {index}: no cut-off, unpinned packages "
            "resolve to the newest releases",
        )
    moment, name, version = max(dated)
    reason = (
        f"unpinned packages resolve as of {moment:%Y-%m-%d}, the release of {name} {version} "
        "(the newest exact pin), as conda would pick versions built to work with the pins"
    )
    return Cutoff(moment, reason), reason


def _index_url(options: Sequence[str]) -> str:
    """The index uv resolves from: ``--index-url`` in the pip list, uv's or pip's variable, PyPI."""
    for flag, value in itertools.pairwise(options):
        if flag in {"--index-url", "-i"}:
            return value.rstrip("/")
    chosen = os.environ.get("UV_INDEX_URL") or os.environ.get("PIP_INDEX_URL") or _PYPI
    return chosen.rstrip("/")


def _release_date(index: str, name: str, version: str) -> datetime | None:
    """The first upload time of ``name`` ``version``'s files (PEP 691 JSON, PEP 700 times)."""
    request = urllib.request.Request(
        f"{index}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            data = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    moments = []
    for entry in data.get("files", []) if isinstance(data, dict) else []:
        filename = str(entry.get("filename", "")) if isinstance(entry, dict) else ""
        if _file_version(filename, name) != version or not entry.get("upload-time"):
            continue
        try:
            moments.append(datetime.fromisoformat(str(entry["upload-time"]).replace("Z", "+00:00")))
        except ValueError:
            continue
    return min(moments).astimezone(timezone.utc) if moments else None


def _file_version(filename: str, name: str) -> str:
    """The version part of a wheel or sdist file name (``scikit_learn-1.2.2-cp311-...whl``)."""
    base = re.sub(r"\.(whl|tar\.gz|zip|tar\.bz2|egg)$", "", filename)
    prefix_len = len(name)
    if base[:prefix_len].replace("_", "-").lower() != name.replace("_", "-").lower():
        return ""
    return base[prefix_len + 1 :].split("-")[0]
