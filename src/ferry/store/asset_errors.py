"""The user-facing errors of the asset registry, in one place so their wording stays aligned."""

from __future__ import annotations

from typing import Any

from ferry.errors import ConflictError, NotFoundError
from ferry.specs.assets import AssetKind
from ferry.store.tables import AssetVersionRow

__all__ = ["all_archived", "check_identical", "missing_version", "no_such_name"]

# Versions listed in a not-found message before the rest is summarised.
_SHOWN_VERSIONS = 10


def _short_hash(content_hash: str | None) -> str:
    if content_hash is None:
        return "none"
    digest = content_hash.removeprefix("sha256:")
    return digest[:12] + "…" if len(digest) > 12 else digest


def check_identical(
    existing: AssetVersionRow, document: dict[str, Any], content_hash: str | None
) -> None:
    """Raises ConflictError unless the re-created version matches the stored one exactly."""
    if existing.content_hash == content_hash and existing.spec == document:
        return
    label = f"{existing.kind} {existing.name!r} version {existing.version}"
    if existing.content_hash != content_hash:
        difference = (
            f"different content (sha256 {_short_hash(existing.content_hash)}, "
            f"yours {_short_hash(content_hash)})"
        )
    else:
        fields = sorted(
            key
            for key in existing.spec.keys() | document.keys()
            if existing.spec.get(key) != document.get(key)
        )
        difference = f"the same content but a different spec (fields: {', '.join(fields)})"
    raise ConflictError(
        f"{label} already exists with {difference}; versions are immutable: omit --version "
        "to create the next version, or choose a new one",
        details={
            "kind": existing.kind,
            "name": existing.name,
            "version": existing.version,
            "existing_content_hash": existing.content_hash,
            "content_hash": content_hash,
        },
    )


def no_such_name(kind: AssetKind, name: str) -> NotFoundError:
    """The error for a name that has no version of this kind at all."""
    return NotFoundError(
        f"no {kind.value} named {name!r}; list them with `ferry {kind.value} list`",
        details={"kind": kind.value, "name": name},
    )


def missing_version(kind: AssetKind, name: str, version: str, known: list[str]) -> NotFoundError:
    """The error for a missing version; ``known`` holds the name's versions, newest first."""
    if not known:
        return no_such_name(kind, name)
    shown = ", ".join(reversed(known[:_SHOWN_VERSIONS]))
    if len(known) > _SHOWN_VERSIONS:
        shown = (
            f"{shown} and {len(known) - _SHOWN_VERSIONS} older "
            f"(see `ferry {kind.value} list --name {name}`)"
        )
    return NotFoundError(
        f"{kind.value} {name!r} has no version {version!r}; {kind.value} {name!r} has "
        f"versions {shown}",
        details={"kind": kind.value, "name": name, "version": version, "versions": known},
    )


def all_archived(kind: AssetKind, name: str, newest: str) -> NotFoundError:
    """The error of ``latest`` when every version is archived; ``newest`` is one to restore."""
    return NotFoundError(
        f"every version of {kind.value} {name!r} is archived; restore one with "
        f"`ferry {kind.value} restore --name {name} --version {newest}`, "
        "or ask for a version explicitly",
        details={"kind": kind.value, "name": name},
    )
