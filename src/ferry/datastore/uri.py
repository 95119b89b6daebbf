"""``azureml://`` datastore URIs and the relative paths inside a datastore.

Two forms are accepted, as in Azure ML::

    azureml://datastores/<name>/paths/<path>
    azureml://subscriptions/<sub>/resourcegroups/<rg>/workspaces/<ws>/datastores/<name>/paths/<path>

The long form's subscription, resource group and workspace are ignored: a Ferry server serves one
workspace. Paths are normalised (``a/./b`` and ``a//b`` become ``a/b``, ``a/../b`` becomes ``b``)
and must stay inside the datastore.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ferry.errors import InvalidInputError, UnsafePathError

__all__ = ["DatastoreUri", "format_uri", "normalize_path", "parse_uri"]

SCHEME = "azureml://"
_EXPECTED = (
    "expected azureml://datastores/<name>/paths/<path> (or the long form "
    "azureml://subscriptions/<sub>/resourcegroups/<rg>/workspaces/<ws>/datastores/<name>/paths/<path>)"
)
_SHORT = re.compile(r"^datastores/(?P<name>[^/]+)/paths(?:/(?P<path>.*))?$", re.IGNORECASE)
_LONG = re.compile(
    r"^subscriptions/[^/]+/resourcegroups/[^/]+/workspaces/[^/]+/"
    r"datastores/(?P<name>[^/]+)/paths(?:/(?P<path>.*))?$",
    re.IGNORECASE,
)


class DatastoreUri(NamedTuple):
    """A parsed datastore URI: the datastore's name and a normalised path inside it."""

    datastore: str
    path: str


def parse_uri(uri: str) -> DatastoreUri:
    """Split an ``azureml://`` datastore URI into (datastore name, relative path).

    The path comes back normalised, without leading or trailing ``/``; ``""`` is the root.

    Raises:
        InvalidInputError: ``uri`` is not a datastore URI; the message shows the expected form.
        UnsafePathError: the path climbs out of the datastore with ``..``.
    """
    if not uri.lower().startswith(SCHEME):
        raise InvalidInputError(
            f"'{uri}' is not a datastore URI; {_EXPECTED}", details={"uri": uri}
        )
    rest = uri[len(SCHEME) :]
    match = _SHORT.match(rest) or _LONG.match(rest)
    if match is None:
        raise InvalidInputError(
            f"'{uri}' is not a valid datastore URI; {_EXPECTED}", details={"uri": uri}
        )
    return DatastoreUri(match["name"], normalize_path(match["path"] or "", origin=uri))


def format_uri(datastore: str, path: str) -> str:
    """Build the short ``azureml://datastores/<name>/paths/<path>`` form.

    Raises:
        UnsafePathError: ``path`` climbs out of the datastore with ``..``.
    """
    if not datastore or "/" in datastore:
        raise InvalidInputError(
            f"'{datastore}' is not a datastore name; use letters, digits and '_'",
            details={"datastore": datastore},
        )
    return f"{SCHEME}datastores/{datastore}/paths/{normalize_path(path)}"


def normalize_path(path: str, *, origin: str | None = None) -> str:
    """Normalise a path inside a datastore: posix, relative, no ``.``/``..`` or empty parts.

    Leading ``/`` is dropped (paths are always relative to the datastore's root).

    Raises:
        UnsafePathError: a ``..`` component climbs above the datastore's root.
    """
    parts: list[str] = []
    shown = origin or path
    for part in path.split("/"):
        if part in ("", "."):
            continue
        # A backslash is an ordinary character in object keys but a separator on Windows.
        if "\\" in part and ".." in part.split("\\"):
            raise UnsafePathError(
                f"the path '{shown}' has a '..' component; use a path inside the datastore",
                details={"path": shown},
            )
        if part == "..":
            if not parts:
                raise UnsafePathError(
                    f"the path '{shown}' climbs out of the datastore with '..'; use a path inside "
                    "it",
                    details={"path": shown},
                )
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)
