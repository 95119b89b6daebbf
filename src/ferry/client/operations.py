"""Operation groups of ``MLClient``, named as in ``azure.ai.ml`` (``ml_client.models`` ...)."""

from __future__ import annotations

import builtins
import json
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

from ferry.archive import pack, safe_extract
from ferry.client.entities import (
    Compute,
    Datastore,
    _ServerFields,
    from_server,
)
from ferry.client.poller import Poller
from ferry.client.transport import Transport
from ferry.errors import InvalidInputError, NotFoundError
from ferry.specs.assets import AssetKind, EnvironmentSpec
from ferry.specs.loader import is_uri, read_yaml
from ferry.specs.workspace import ComputeSpec

__all__ = [
    "AssetOperations",
    "ComputeOperations",
    "DatastoreOperations",
    "SecretOperations",
]

A = TypeVar("A", bound=_ServerFields)


class AssetOperations(Generic[A]):
    """create_or_update, get, list, download, archive, restore for one asset kind."""

    def __init__(self, transport: Transport, kind: AssetKind, entity: type[A]) -> None:
        self._t = transport
        self._kind = kind
        self._entity = entity
        self._base = f"/api/v1/{kind.collection}"

    def create_or_update(self, asset: A) -> A:
        """Register a version; a local ``path`` (or build context) is uploaded atomically."""
        if not getattr(asset, "name", None) and self._kind is not AssetKind.CODE:
            kind = self._kind.value
            raise InvalidInputError(
                f"a {kind} registered on its own needs a name: {type(asset).__name__}(name=..., "
                "...); only one placed inside a deployment may go without (it is registered "
                "anonymously, named after the deployment).",
                details={"field": "name"},
            )
        spec = asset.model_dump(mode="json", exclude_none=True, by_alias=False)
        for key in ("schema_uri", "id", "content_hash", "archived", "created_at", "updated_at"):
            spec.pop(key, None)
        for key in ("signature", "pip_requirements"):
            spec.pop(key, None)
        local = self._local_source(asset, spec)
        if local is None:
            return from_server(self._entity, self._t.json("POST", self._base, json=spec))
        with tempfile.TemporaryFile() as archive:
            pack(local, archive)
            archive.seek(0)
            data = self._t.json(
                "POST",
                self._base,
                data={"spec": json.dumps(spec)},
                files={"archive": (f"{local.name}.tar.gz", archive, "application/gzip")},
            )
        return from_server(self._entity, data)

    def _local_source(self, asset: A, spec: dict[str, Any]) -> Path | None:
        if isinstance(asset, EnvironmentSpec):
            if isinstance(asset.conda_file, str):
                spec["conda_file"] = read_yaml(asset.conda_file)
            return Path(asset.build.path) if asset.build and not is_uri(asset.build.path) else None
        path = spec.get("path")
        if isinstance(path, str) and not is_uri(path):
            local = Path(path).expanduser()
            if not local.exists():
                raise NotFoundError(
                    f"path {path!r} does not exist; check --path (relative paths in a YAML file "
                    "are relative to that file).",
                    details={"field": "path", "path": path},
                )
            return local
        return None

    def get(self, name: str, version: str | None = None, label: str | None = None) -> A:
        """One version; ``label="latest"`` (or no version) gives the newest."""
        if version is None and label is None:
            label = "latest"
        params = {"version": version} if version else {"label": label}
        return from_server(self._entity, self._t.json("GET", f"{self._base}/{name}", params=params))

    def list(
        self,
        name: str | None = None,
        *,
        stage: str | None = None,
        list_view_type: str | None = None,
        include_archived: bool = False,
    ) -> Iterator[A]:
        """Latest version of every asset, or every version of ``name`` (newest first).

        ``list_view_type`` is Azure's: ``ActiveOnly`` (the default), ``ArchivedOnly`` or ``All``;
        ``stage`` keeps the models with that stage.
        """
        view = str(getattr(list_view_type, "value", list_view_type) or "ActiveOnly")
        archived = include_archived or view.lower() in ("all", "archivedonly")
        params: dict[str, Any] = {"include_archived": archived}
        if name:
            params["name"] = name
        for item in _pages(self._t, self._base, params):
            entity = from_server(self._entity, item)
            if view.lower() == "archivedonly" and not entity.archived:
                continue
            if stage is None or getattr(entity, "stage", None) == stage:
                yield entity

    def download(self, name: str, version: str | None = None, download_path: str = ".") -> Path:
        """Download into ``download_path/<name>/``, as ``az ml model download`` does."""
        version = version or str(self.get(name).raw["version"])
        assert version is not None
        dest = Path(download_path).expanduser() / name
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile() as archive:
            self._t.stream_to(f"{self._base}/{name}/versions/{version}/download", archive)
            archive.seek(0)
            try:
                return safe_extract(archive, dest)
            except tarfile.TarError as exc:
                raise InvalidInputError(
                    f"the downloaded archive is damaged ({exc}); retry."
                ) from exc

    def archive(
        self, name: str, version: str | None = None, label: str | None = None
    ) -> builtins.list[A]:
        """Archive one version (``label="latest"``: the newest), or every version."""
        version = self._labelled(name, version, label)
        params = {"version": version} if version else {}
        data = self._t.json("POST", f"{self._base}/{name}/archive", params=params)
        return [from_server(self._entity, d) for d in data]

    def restore(
        self, name: str, version: str | None = None, label: str | None = None
    ) -> builtins.list[A]:
        """Restore one version (``label="latest"``: the newest), or every version."""
        version = self._labelled(name, version, label)
        params = {"version": version} if version else {}
        data = self._t.json("POST", f"{self._base}/{name}/restore", params=params)
        return [from_server(self._entity, d) for d in data]

    def _labelled(self, name: str, version: str | None, label: str | None) -> str | None:
        if version is not None or label is None:
            return version
        return str(self.get(name, label=label).raw["version"])

    def update(
        self,
        name: str,
        version: str,
        *,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> A:
        body = {"description": description, "tags": tags}
        data = self._t.json("PATCH", f"{self._base}/{name}/versions/{version}", json=body)
        return from_server(self._entity, data)


class DatastoreOperations:
    """``ml_client.datastores``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def create_or_update(self, datastore: Datastore) -> Datastore:
        body = datastore.model_dump(mode="json", exclude_none=True)
        for key in ("schema_uri", "created_at", "updated_at"):
            body.pop(key, None)
        return from_server(Datastore, self._t.json("POST", "/api/v1/datastores", json=body))

    def get(self, name: str) -> Datastore:
        return from_server(Datastore, self._t.json("GET", f"/api/v1/datastores/{name}"))

    def get_default(self) -> Datastore:
        return self.get("workspaceblobstore")

    def list(self) -> Iterator[Datastore]:
        for item in _pages(self._t, "/api/v1/datastores", {}):
            yield from_server(Datastore, item)

    def delete(self, name: str) -> None:
        self._t.request("DELETE", f"/api/v1/datastores/{name}")


class ComputeOperations:
    """``ml_client.compute``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def begin_create_or_update(self, compute: Compute) -> Poller[Compute]:
        """Create or update; ``.result()`` is the stored compute (as Azure's LROPoller)."""
        return Poller.completed(self.create_or_update(compute))

    def create_or_update(self, compute: Compute) -> Compute:
        # Only the spec's fields travel: AmlCompute's Azure-only settings stay here.
        fields = set(ComputeSpec.model_fields) - {"schema_uri"}
        body = compute.model_dump(mode="json", exclude_none=True, include=fields)
        return from_server(Compute, self._t.json("POST", "/api/v1/computes", json=body))

    def get(self, name: str) -> Compute:
        return from_server(Compute, self._t.json("GET", f"/api/v1/computes/{name}"))

    def list(self, *, compute_type: str | None = None) -> Iterator[Compute]:
        """Every compute, or those of ``compute_type`` (local, ray)."""
        for item in _pages(self._t, "/api/v1/computes", {}):
            compute = from_server(Compute, item)
            if compute_type is None or compute.type == compute_type.lower():
                yield compute

    def begin_delete(self, name: str, *, action: str = "Delete") -> Poller[None]:
        """Remove the registration; Azure's ``action="Detach"`` does the same here."""
        self.delete(name)
        return Poller.completed(None)

    def delete(self, name: str) -> None:
        self._t.request("DELETE", f"/api/v1/computes/{name}")


class SecretOperations:
    """``ml_client.secrets`` (Ferry's): values go in, only names come out."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def set(self, name: str, value: str) -> dict[str, Any]:
        result: dict[str, Any] = self._t.json(
            "PUT", f"/api/v1/secrets/{name}", json={"value": value}
        )
        return result

    def list(self) -> list[dict[str, Any]]:
        return list(_pages(self._t, "/api/v1/secrets", {}))

    def delete(self, name: str) -> None:
        self._t.request("DELETE", f"/api/v1/secrets/{name}")


def _pages(transport: Transport, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        query = dict(params)
        if token:
            query["page_token"] = token
        data = transport.json("GET", path, params=query)
        yield from data["value"]
        token = data.get("next_page_token")
        if not token:
            return
