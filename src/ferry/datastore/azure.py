"""Azure Blob Storage datastores (and Azurite) through adlfs.

The only module that imports adlfs. Credentials: ``account_key``, ``sas_token`` or a whole
``connection_string``. A non-default ``endpoint`` or ``protocol`` (sovereign clouds, Azurite over
http) is expressed as a connection string, the one form adlfs accepts for both.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from ferry.datastore.core import Datastore
from ferry.datastore.errors import ErrorContext
from ferry.datastore.factory import check_credential_names, missing_package
from ferry.errors import InvalidInputError
from ferry.specs.workspace import DatastoreSpec

__all__ = ["open_azure_blob"]

CREDENTIAL_NAMES = {"account_key", "sas_token", "connection_string"}
_COPY_WAIT_S = 600.0


def open_azure_blob(spec: DatastoreSpec, credentials: dict[str, str]) -> Datastore:
    """A datastore in ``<container>/<prefix>`` of a storage account."""
    fs_class = _filesystem_class(spec)
    check_credential_names(spec, credentials, CREDENTIAL_NAMES)
    options: dict[str, Any] = {"skip_instance_cache": True, "use_listings_cache": False}
    conn = credentials.get("connection_string") or _connection_string(spec, credentials)
    if conn:
        options["connection_string"] = conn
    else:
        options["account_name"] = spec.account_name
        options["account_key"] = credentials.get("account_key")
        options["sas_token"] = credentials.get("sas_token")
    try:
        fs = fs_class(**options)
    except ValueError as exc:
        # adlfs refuses some settings (e.g. an account_name with '/') before any request is made.
        raise InvalidInputError(
            f"datastore '{spec.name}': the Azure Blob client refused its settings ({exc}); "
            "check account_name (3-24 lowercase letters and digits), endpoint and the credential",
            details={"datastore": spec.name, "field": "account_name"},
        ) from exc
    root = "/".join(p for p in (spec.container_name, spec.prefix.strip("/")) if p)
    secrets = [*credentials.values(), *_connection_string_secrets(conn)]
    errors = ErrorContext(
        datastore=spec.name,
        container=f"container '{spec.container_name}'",
        credential_fields="account_key, sas_token or connection_string",
        secrets=tuple(secrets),
    )
    return Datastore(spec.name, fs, root, errors=errors)


def _connection_string(spec: DatastoreSpec, credentials: dict[str, str]) -> str | None:
    if not (spec.endpoint or spec.protocol):
        return None
    if not spec.account_name:
        raise InvalidInputError(
            f"datastore '{spec.name}': endpoint/protocol need account_name; set it",
            details={"datastore": spec.name, "field": "account_name"},
        )
    protocol = spec.protocol or "https"
    suffix = spec.endpoint or "core.windows.net"
    if "account_key" in credentials:
        return (
            f"DefaultEndpointsProtocol={protocol};AccountName={spec.account_name};"
            f"AccountKey={credentials['account_key']};EndpointSuffix={suffix}"
        )
    blob_endpoint = f"{protocol}://{spec.account_name}.blob.{suffix}"
    sas = credentials.get("sas_token", "").lstrip("?")
    return f"BlobEndpoint={blob_endpoint};SharedAccessSignature={sas}"


def _connection_string_secrets(conn: str | None) -> list[str]:
    parts = (p.partition("=") for p in (conn or "").split(";"))
    return [v for k, _, v in parts if k.lower() in ("accountkey", "sharedaccesssignature") and v]


def _filesystem_class(spec: DatastoreSpec) -> Any:
    try:
        return _waiting_copy_filesystem()
    except ImportError as exc:
        raise missing_package(spec, "adlfs", "azure") from exc


@functools.cache
def _waiting_copy_filesystem() -> Any:
    from adlfs import AzureBlobFileSystem

    class WaitingCopyFileSystem(AzureBlobFileSystem):  # type: ignore[misc]
        """adlfs, but a copy returns only once the service finished it.

        Copy Blob may complete asynchronously; a commit must not drop its pending marker while a
        copy is still running, so wait for each copy's status to leave ``pending``.
        """

        async def _cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
            await super()._cp_file(path1, path2, **kwargs)
            container, blob, _ = self.split_path(path2, delimiter="/")
            client = self.service_client.get_container_client(container).get_blob_client(blob)
            delay, waited = 0.05, 0.0
            while True:
                copy = (await client.get_blob_properties()).copy
                if copy.status in (None, "success"):
                    return
                if copy.status != "pending":
                    raise OSError(f"copying {path1} to {path2} ended as {copy.status}")
                if waited > _COPY_WAIT_S:
                    raise TimeoutError(f"copying {path1} to {path2} still pending after {waited}s")
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 2.0)

    return WaitingCopyFileSystem
