"""Open a :class:`Datastore` from its spec; the implementation is chosen by ``spec.type``.

The S3 and Azure adapters live in their own modules and are imported only when such a datastore
is opened, so ``import ferry.datastore`` never imports s3fs, adlfs, boto or azure.
"""

from __future__ import annotations

from pathlib import Path

from ferry.datastore.core import Datastore
from ferry.datastore.errors import ErrorContext
from ferry.errors import InvalidInputError
from ferry.specs.workspace import DatastoreSpec

__all__ = ["check_credential_names", "open_datastore"]


def open_datastore(spec: DatastoreSpec, credentials: dict[str, str]) -> Datastore:
    """Build the datastore that ``spec`` describes.

    Args:
        spec: the datastore's spec (its ``credentials`` are used where ``credentials`` lacks them).
        credentials: the decrypted credentials (see :class:`DatastoreSpec` for the names).

    Raises:
        InvalidInputError: an unknown credential name, or the package a type needs is missing.
    """
    creds = {**spec.credentials, **credentials}
    if spec.type == "s3":
        from ferry.datastore.s3 import open_s3

        return open_s3(spec, creds)
    if spec.type == "azure_blob":
        from ferry.datastore.azure import open_azure_blob

        return open_azure_blob(spec, creds)
    return open_local(spec)


def open_local(spec: DatastoreSpec) -> Datastore:
    """A datastore in the local folder ``spec.root`` (``~`` expanded, made absolute)."""
    from fsspec.implementations.local import LocalFileSystem

    if not spec.root:
        raise InvalidInputError(
            f"datastore '{spec.name}': a local datastore needs root; set it to a folder",
            details={"datastore": spec.name, "field": "root"},
        )
    root = Path(spec.root).expanduser().resolve()
    # auto_mkdir: uploads create their parent folders, as object stores do implicitly.
    fs = LocalFileSystem(auto_mkdir=True)
    return Datastore(spec.name, fs, root.as_posix(), local=True, errors=ErrorContext(spec.name))


def check_credential_names(spec: DatastoreSpec, creds: dict[str, str], known: set[str]) -> None:
    """Raise :class:`InvalidInputError` if ``creds`` has a name that ``spec.type`` does not use."""
    unknown = sorted(set(creds) - known)
    if unknown:
        raise InvalidInputError(
            f"datastore '{spec.name}': unknown credential(s) {', '.join(unknown)} for a "
            f"{spec.type} datastore; use {', '.join(sorted(known))}",
            details={"datastore": spec.name, "field": "credentials"},
        )


def missing_package(spec: DatastoreSpec, package: str, extra: str) -> InvalidInputError:
    """The error for a datastore type whose optional package is not installed."""
    return InvalidInputError(
        f"datastore '{spec.name}' is of type {spec.type}, which needs the {package} package; "
        f"install it with pip install 'ferry[{extra}]'",
        details={"datastore": spec.name, "package": package},
    )
