"""Datastores: named places for artifact bytes. Credentials live encrypted in the secret store."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from ferry.datastore import Datastore, format_uri, open_datastore, parse_uri
from ferry.datastore.cloud_url import parse_cloud_url
from ferry.errors import ConflictError, InvalidInputError, NotFoundError
from ferry.services.secrets import SecretService
from ferry.specs.names import DATASTORE_NAME
from ferry.specs.workspace import DEFAULT_DATASTORE, DatastoreSpec
from ferry.store.base import NamedRepository, Page

__all__ = ["DatastoreService"]

_KIND = "datastore"


class DatastoreService:
    """Create, show, list and delete datastores, and open them to move bytes."""

    def __init__(self, repo: NamedRepository, secrets: SecretService, default_root: Path) -> None:
        self._repo = repo
        self._secrets = secrets
        self._default_root = default_root
        self._open: dict[str, Datastore] = {}

    def ensure_default(self) -> None:
        """``workspaceblobstore`` is a folder in the workspace, as Azure's name for the default."""
        try:
            self._repo.get(_KIND, DEFAULT_DATASTORE)
        except NotFoundError:
            spec = DatastoreSpec(
                name=DEFAULT_DATASTORE,
                type="local",
                root=str(self._default_root),
                description="The workspace's default datastore (a folder in the workspace).",
            )
            self._repo.put(_KIND, spec.name, _stored(spec))

    def create(self, spec: DatastoreSpec) -> tuple[dict[str, Any], bool]:
        if spec.name == DEFAULT_DATASTORE:
            raise InvalidInputError(
                f"'{DEFAULT_DATASTORE}' is the built-in datastore; choose another name.",
                details={"field": "name"},
            )
        # Open it first: a datastore that cannot be reached is refused, not stored.
        store = open_datastore(spec, dict(spec.credentials))
        store.check()
        for key, value in spec.credentials.items():
            self._secrets.put_internal(f"datastore/{spec.name}/{key}", value)
        record, created = self._repo.put(_KIND, spec.name, _stored(spec))
        self._open[spec.name] = store
        return _view(record.spec, record.created_at, record.updated_at), created

    def get(self, name: str) -> dict[str, Any]:
        DATASTORE_NAME.check(name)
        record = self._repo.get(_KIND, name)
        return _view(record.spec, record.created_at, record.updated_at)

    def list(self, *, limit: int = 100, page_token: str | None = None) -> Page:
        page = self._repo.list(_KIND, limit=limit, page_token=page_token)
        return Page(
            [_view(r.spec, r.created_at, r.updated_at) for r in page.items], page.next_token
        )

    def delete(self, name: str) -> None:
        if name == DEFAULT_DATASTORE:
            # 409: the request is well formed; the datastore's built-in state forbids it.
            raise ConflictError(
                f"'{DEFAULT_DATASTORE}' is built in and cannot be deleted.",
                details={"field": "name"},
            )
        record = self._repo.get(_KIND, name)
        for key in record.spec.get("credentials", []):
            with contextlib.suppress(NotFoundError):
                self._secrets.delete_internal(f"datastore/{name}/{key}")
        self._repo.delete(_KIND, name)
        self._open.pop(name, None)

    def open(self, name: str) -> Datastore:
        """The live datastore, with its credentials decrypted from the secret store."""
        if name not in self._open:
            stored, credentials = self.credentials_of(name)
            spec = DatastoreSpec.model_validate({**stored, "credentials": credentials})
            self._open[name] = open_datastore(spec, credentials)
        return self._open[name]

    def credentials_of(self, name: str) -> tuple[dict[str, Any], dict[str, str]]:
        """The datastore's stored spec and its decrypted credentials, for a process that opens
        it elsewhere (a worker's data agent); they travel in memory only."""
        record = self._repo.get(_KIND, name)
        keys = record.spec.get("credentials", [])
        credentials = {k: self._secrets.reveal_internal(f"datastore/{name}/{k}") for k in keys}
        return dict(record.spec), credentials

    def uri_of(self, url: str) -> str:
        """The ``azureml://`` URI of a storage URL (``s3://bucket/key``, ``abfss://``,
        ``wasbs://``, ``https://<account>.blob.core.windows.net/...``): the place inside the
        registered datastore over that bucket or container (the longest matching prefix wins),
        whose credentials then read it.

        Raises:
            InvalidInputError: ``url`` is not a storage URL.
            NotFoundError: no registered datastore holds that place; the message says how to
                register one.
        """
        try:
            where = parse_cloud_url(url)
        except ValueError as exc:
            raise InvalidInputError(str(exc), details={"field": "input"}) from None
        best: tuple[int, str, str] | None = None
        for record in self._repo.list(_KIND, limit=10_000).items:
            spec = record.spec
            if spec.get("type") != where.kind:
                continue
            place = spec.get("bucket") if where.kind == "s3" else spec.get("container_name")
            account = spec.get("account_name")
            if place != where.bucket or (where.account and account and account != where.account):
                continue
            prefix = str(spec.get("prefix") or "").strip("/")
            if prefix and where.path != prefix and not where.path.startswith(prefix + "/"):
                continue
            rel = where.path[len(prefix) :].lstrip("/") if prefix else where.path
            if best is None or len(prefix) > best[0]:
                best = (len(prefix), record.name, rel)
        if best is None:
            place, flag = (
                ("bucket", "bucket") if where.kind == "s3" else ("container", "container-name")
            )
            raise NotFoundError(
                f"{url} is in {where.kind} {place} {where.bucket!r}, which no registered "
                "datastore covers; register one (ferry datastore create --name <name> --type "
                f"{where.kind} --{flag} {where.bucket} ...) "
                "so that Ferry has its credentials, or pass azureml://datastores/<name>/paths/...",
                details={"field": "input", "url": url},
            )
        return format_uri(best[1], best[2])

    def resolve(self, uri: str) -> tuple[Datastore, str]:
        """``azureml://datastores/<name>/paths/<p>`` to the open datastore and ``<p>``."""
        name, path = parse_uri(uri)
        try:
            return self.open(name), path
        except NotFoundError as exc:
            raise NotFoundError(
                f"{uri} names datastore {name!r}, which does not exist; "
                "list them with `ferry datastore list`.",
                details={"datastore": name},
            ) from exc

    @property
    def default(self) -> Datastore:
        return self.open(DEFAULT_DATASTORE)


def _stored(spec: DatastoreSpec) -> dict[str, Any]:
    """The spec as stored: credential names only, their values live in the secret store."""
    return spec.public()


def _view(spec: dict[str, Any], created_at: Any, updated_at: Any) -> dict[str, Any]:
    return {**spec, "created_at": created_at, "updated_at": updated_at}
