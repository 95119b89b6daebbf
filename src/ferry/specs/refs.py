"""Asset references: ``azureml:name:1``, ``azureml:name@latest``, ``name:1``, ``name@latest``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ferry.errors import InvalidInputError
from ferry.specs.names import ASSET_NAME, VERSION

__all__ = [
    "LATEST",
    "REF_PATTERN",
    "SERVER_PYTHON",
    "AssetRef",
    "is_asset_ref",
    "parse_asset_ref",
    "ref_in_schema",
]

LATEST = "latest"
_AZUREML = "azureml:"
#: The environment that runs a deployment in the server's own Python, no build.
SERVER_PYTHON = "ferry:server-python"
#: The references the server resolves (``is_asset_ref`` and ``parse_asset_ref`` agree), as a
#: JSON Schema pattern: ``azureml:<name>:<version>``, ``azureml:<name>@latest``, ``<name>@latest``.
REF_PATTERN = (
    f"^(azureml:{ASSET_NAME.pattern}(:{VERSION.pattern}|@{LATEST})|{ASSET_NAME.pattern}@{LATEST})$"
)


def ref_in_schema(*extra: str) -> dict[str, Any]:
    """JSON Schema of a reference field as the HTTP API takes it: a reference, ``extra`` or null.

    Specs also take inline assets and local paths, which the CLI and SDK register and replace
    with references before they send the spec; the server refuses them.
    """
    choices: list[dict[str, Any]] = [{"type": "string", "pattern": REF_PATTERN}]
    choices += [{"const": value} for value in extra]
    return {"anyOf": [*choices, {"type": "null"}]}


@dataclass(frozen=True)
class AssetRef:
    """A parsed reference. ``label`` is ``"latest"`` when the version is to be resolved."""

    name: str
    version: str | None = None
    label: str | None = None

    def __str__(self) -> str:
        return (
            f"azureml:{self.name}@{self.label}"
            if self.label
            else f"azureml:{self.name}:{self.version}"
        )


def is_asset_ref(text: str) -> bool:
    """True for ``azureml:name...`` references (not ``azureml://`` URIs) and ``name@latest``."""
    if text.startswith("azureml://"):
        return False
    return text.startswith(_AZUREML) or text.endswith("@" + LATEST)


def parse_asset_ref(text: str, *, field: str = "reference") -> AssetRef:
    """Parse any of the four reference forms; a bare ``name`` is refused as ambiguous."""
    body = text[len(_AZUREML) :] if text.startswith(_AZUREML) else text
    if body.startswith("//"):
        raise InvalidInputError(
            f"{field} {text!r} is a datastore URI, not an asset reference; "
            "use azureml:<name>:<version> or azureml:<name>@latest.",
            details={"field": field, "value": text},
        )
    if "@" in body:
        name, _, label = body.partition("@")
        if label != LATEST:
            raise InvalidInputError(
                f"{field} {text!r} uses label {label!r}; the only label is 'latest' "
                f"(write azureml:{name}@latest or azureml:{name}:<version>).",
                details={"field": field, "value": text},
            )
        return AssetRef(ASSET_NAME.check(name, field=field), label=LATEST)
    name, sep, version = body.rpartition(":")
    if not sep or not name:
        raise InvalidInputError(
            f"{field} {text!r} names no version; write azureml:{body}:<version> "
            f"or azureml:{body}@latest.",
            details={"field": field, "value": text},
        )
    return AssetRef(
        ASSET_NAME.check(name, field=field), version=VERSION.check(version, field=field)
    )
