"""How closely an environment follows its spec, and the model dates it is sometimes fed with.

A model saved three years ago pins versions that often have no wheel for today's Python and whose
source distributions no longer build, and leaves the rest unpinned, so a resolver run today mixes
old compiled pins with today's releases (``scikit-learn==1.2.2`` with numpy 2). By default Ferry
builds what conda would have built then: unpinned packages resolve as of the newest exact pin's
release date, and an exact pin with no installable wheel moves to the nearest release that has
one. Every change is reported as a line of text in
:attr:`~ferry.environments.BuiltEnvironment.changes`; :meth:`ResolutionPolicy.strict` (the
``ferry_resolution: strict`` property) makes any change an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from ferry.errors import SpecError

__all__ = ["ResolutionPolicy", "model_created_at", "uv_timestamp"]


@dataclass(frozen=True)
class ResolutionPolicy:
    """How strictly an environment's requirements are followed (the default repairs and reports).

    Attributes:
        relax_pins: a package version ``X.Y.Z`` (pinned, or picked by the resolver) that has no
            wheel for the target Python moves up front to the nearest release in ``X.Y.*`` that
            has one, instead of being compiled; one whose source build fails moves to the
            nearest release in ``X.Y.*`` that installs. Never crosses a minor version; every
            move is recorded in ``BuiltEnvironment.changes``.
        exclude_newer: resolve every package the spec does not pin exactly as of this moment
            (uv ``--exclude-newer``), so an unpinned ``mlflow`` or a transitive ``numpy`` comes out
            the way it did when the model was saved. Naive datetimes are taken as UTC. Exact pins
            are exempt: they already name their version.
        date_from_pins: without ``exclude_newer``, use the release date of the newest exactly
            pinned release instead (read from the package index), as conda would resolve the
            unpinned packages next to old compiled pins.
        strict_python: fail when the requested Python version is not installed, instead of
            using the closest installed version with a notice.
        refuse_changes: any pin the build would have to move is an error that lists the moves
            (``ferry_resolution: strict``), instead of a compile from source that fails later.
    """

    relax_pins: bool = True
    exclude_newer: datetime | None = None
    date_from_pins: bool = True
    strict_python: bool = False
    refuse_changes: bool = False

    @classmethod
    def strict(cls, exclude_newer: datetime | None = None) -> ResolutionPolicy:
        """``ferry_resolution: strict``: install exactly what is written or fail, nothing moved."""
        return cls(
            relax_pins=False, exclude_newer=exclude_newer, strict_python=True, refuse_changes=True
        )

    def fingerprint(self) -> dict[str, Any]:
        """The parts of the policy that change what gets installed (they enter the env hash)."""
        return {
            "relax_pins": self.relax_pins,
            "exclude_newer": uv_timestamp(self.exclude_newer) if self.exclude_newer else None,
            "date_from_pins": self.date_from_pins,
            "strict_python": self.strict_python,
            "refuse_changes": self.refuse_changes,
        }


def uv_timestamp(moment: datetime) -> str:
    """``moment`` as the RFC 3339 UTC timestamp uv accepts (naive datetimes are UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def model_created_at(model_dir: Path) -> datetime | None:
    """When an MLflow model was saved (``utc_time_created`` in its ``MLmodel`` file), in UTC.

    Feed it to ``ResolutionPolicy(exclude_newer=...)`` to resolve the model's unpinned
    requirements as of that day. Returns ``None`` when the folder has no ``MLmodel`` file or the
    file has no date.

    Raises:
        SpecError: the ``MLmodel`` file exists but is not valid YAML or its date is unreadable.
    """
    mlmodel = Path(model_dir) / "MLmodel"
    if not mlmodel.is_file():
        return None
    try:
        content = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(
            f"{mlmodel} is not valid YAML: {exc}", details={"field": "MLmodel"}
        ) from exc
    raw = content.get("utc_time_created") if isinstance(content, dict) else None
    if raw is None:
        return None
    if isinstance(raw, datetime):
        moment = raw
    else:
        try:
            moment = datetime.fromisoformat(str(raw).strip())
        except ValueError as exc:
            raise SpecError(
                f"{mlmodel}: utc_time_created {raw!r} is not a date "
                "(expected e.g. '2022-10-13 00:55:57.543663')",
                details={"field": "MLmodel.utc_time_created"},
            ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
