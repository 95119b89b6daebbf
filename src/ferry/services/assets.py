"""Versioned assets: create (with atomic upload), resolve references, list, archive, export."""

from __future__ import annotations

import builtins
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from ferry.archive import ExtractLimits, content_hash, safe_extract
from ferry.errors import ConflictError, InvalidInputError, NotFoundError, SpecError
from ferry.services.datastores import DatastoreService
from ferry.specs.assets import (
    SPEC_BY_KIND,
    AssetKind,
    AssetSpec,
    AssetTypes,
    CodeSpec,
    DataSpec,
    EnvironmentSpec,
    ModelSpec,
)
from ferry.specs.loader import is_uri, spec_from_data
from ferry.specs.refs import parse_asset_ref
from ferry.store.base import AssetRecord, AssetRepository, Page

__all__ = ["AssetService", "asset_view"]

UPLOAD_FOLDER = "LocalUpload"


class AssetService:
    """The rules of versioned assets, independent of HTTP."""

    def __init__(
        self,
        repo: AssetRepository,
        datastores: DatastoreService,
        staging: Path,
        *,
        unpack_limits: ExtractLimits | None = None,
    ) -> None:
        self._repo = repo
        self._datastores = datastores
        self._staging = staging
        self._limits = unpack_limits or ExtractLimits()

    @property
    def unpack_limits(self) -> ExtractLimits:
        """The caps on what an uploaded archive unpacks to (shared with staged job inputs)."""
        return self._limits

    # -- create -------------------------------------------------------------------------------
    def create(
        self, kind: AssetKind, data: dict[str, Any], archive: BinaryIO | None = None
    ) -> tuple[dict[str, Any], bool]:
        """Create a version from a spec plus, for local paths, a tar.gz of the file or folder.

        The upload is staged and committed to the datastore under a content-addressed folder
        before the row is written, so a failure leaves no row and no half asset.
        """
        self._staging.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self._staging, prefix="upload-") as tmp:
            top = safe_extract(archive, Path(tmp), limits=self._limits) if archive else None
            spec = self._validated(kind, data, uploaded=top)
            stored = spec.to_json()
            # Name and version identify the row; they are not part of the content.
            stored.pop("name", None)
            stored.pop("version", None)
            digest: str | None = None
            if top is not None:
                digest = content_hash(top)
                stored.update(_inspect_upload(spec, top))
                # Anonymous code is addressed by content alone, whatever its folder was called.
                leaf = "code" if isinstance(spec, CodeSpec) and not spec.name else top.name
                # One folder per (content, name): a deployment's AZUREML_MODEL_DIR is this folder
                # and must hold exactly the registered file or folder under its own name.
                folder = hashlib.sha256(f"{digest}/{leaf}".encode()).hexdigest()[:32]
                dest = f"{UPLOAD_FOLDER}/{folder}/{leaf}"
                self._datastores.default.commit(top, dest)
                if isinstance(spec, EnvironmentSpec):
                    stored["build"]["path"] = self._datastores.default.uri(dest)
                else:
                    stored["path"] = self._datastores.default.uri(dest)
            elif isinstance(spec, EnvironmentSpec):
                stored.update(_inspect_environment(spec))
                digest = _json_hash(stored)
            elif "path" in stored:
                self._check_reference(str(stored["path"]))
        name = spec.name
        if isinstance(spec, CodeSpec) and not name:
            if digest is None:
                raise InvalidInputError(
                    "code without a name must be uploaded from a local folder; give --name.",
                    details={"field": "name"},
                )
            # Anonymous code: the same content is the same asset.
            name, spec.version = f"code-{digest.removeprefix('sha256:')[:16]}", "1"
        assert name is not None
        record, created = self._repo.create(kind, name, spec.version, stored, digest)
        return asset_view(record), created

    def _validated(self, kind: AssetKind, data: dict[str, Any], uploaded: Path | None) -> AssetSpec:
        data = dict(data)
        path = data.get("path")
        if uploaded is not None and kind is not AssetKind.ENVIRONMENT:
            data["path"] = str(uploaded)
        elif (
            isinstance(path, str)
            and path
            and not is_uri(path)
            and kind is not AssetKind.ENVIRONMENT
        ):
            raise InvalidInputError(
                f"path {path!r} is a local path but no files were uploaded with it; the ferry CLI "
                "and SDK upload local paths for you, or pass a URI "
                "(azureml://datastores/<name>/paths/<path>).",
                details={"field": "path"},
            )
        if kind is AssetKind.ENVIRONMENT and isinstance(data.get("build"), dict) and uploaded:
            data["build"] = {**data["build"], "path": str(uploaded)}
        if kind is AssetKind.ENVIRONMENT and isinstance(data.get("conda_file"), str):
            raise SpecError(
                "conda_file must be sent as the file's content (a mapping); the ferry CLI and SDK "
                "read the file for you.",
                details={"field": "conda_file"},
            )
        return spec_from_data(SPEC_BY_KIND[kind], data)

    def _check_reference(self, uri: str) -> None:
        if uri.startswith("azureml://"):
            store, path = self._datastores.resolve(uri)
            if not store.exists(path):
                raise NotFoundError(
                    f"{uri} does not exist in datastore; upload it first or fix the path.",
                    details={"field": "path", "uri": uri},
                )

    # -- read ---------------------------------------------------------------------------------
    def get(
        self, kind: AssetKind, name: str, version: str | None = None, label: str | None = None
    ) -> dict[str, Any]:
        return asset_view(self.record(kind, name, version, label))

    def record(
        self, kind: AssetKind, name: str, version: str | None = None, label: str | None = None
    ) -> AssetRecord:
        if version and label:
            raise InvalidInputError(
                "give either a version or label='latest', not both.", details={"field": "version"}
            )
        if label not in (None, "latest"):
            raise InvalidInputError(
                f"label {label!r} is unknown; the only label is 'latest'.",
                details={"field": "label"},
            )
        if version:
            return self._repo.get(kind, name, version)
        return self._repo.latest(kind, name)

    def resolve(self, kind: AssetKind, reference: str) -> AssetRecord:
        """``azureml:name:1``, ``azureml:name@latest``, ``name:1`` or ``name@latest``."""
        ref = parse_asset_ref(reference)
        return self.record(kind, ref.name, ref.version, ref.label)

    def list(
        self,
        kind: AssetKind,
        name: str | None = None,
        *,
        include_archived: bool = False,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page:
        page = self._repo.list_versions(
            kind, name, include_archived=include_archived, limit=limit, page_token=page_token
        )
        return Page([asset_view(r) for r in page.items], page.next_token)

    def update(
        self,
        kind: AssetKind,
        name: str,
        version: str,
        *,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        return asset_view(
            self._repo.update(kind, name, version, description=description, tags=tags)
        )

    def set_archived(
        self, kind: AssetKind, name: str, version: str | None, archived: bool
    ) -> builtins.list[dict[str, Any]]:
        return [asset_view(r) for r in self._repo.set_archived(kind, name, version, archived)]

    # -- bytes --------------------------------------------------------------------------------
    def export(self, record: AssetRecord, dest: Path) -> Path:
        """Copy the asset's file or folder under ``dest`` (keeping its base name); return it."""
        uri = str(record.spec.get("path") or record.spec.get("build", {}).get("path", ""))
        if not uri.startswith("azureml://"):
            # 409: the version exists, but as a reference its bytes are not Ferry's to give.
            raise ConflictError(
                f"{record.kind.value} {record.name}:{record.version} references {uri!r}; Ferry "
                "did not store its bytes, fetch them from there.",
                details={"path": uri},
            )
        store, path = self._datastores.resolve(uri)
        return store.download(path, dest)

    def local_path(self, record: AssetRecord) -> Path | None:
        """The asset's bytes in place, when its datastore is a local folder (no copy)."""
        uri = str(record.spec.get("path", ""))
        if not uri.startswith("azureml://"):
            return None
        store, path = self._datastores.resolve(uri)
        return store.local_path(path)


def asset_view(record: AssetRecord) -> dict[str, Any]:
    """The flat JSON of an asset version, as the REST API and ``-o json`` show it."""
    return {
        **record.spec,
        "kind": record.kind.value,
        "name": record.name,
        "version": record.version,
        "id": f"azureml:{record.name}:{record.version}",
        "content_hash": record.content_hash,
        "archived": record.archived,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def _json_hash(data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _inspect_upload(spec: AssetSpec, top: Path) -> dict[str, Any]:
    """Facts read from the uploaded files: MLflow flavors and signature, the MLTable file."""
    extra: dict[str, Any] = {}
    if isinstance(spec, ModelSpec):
        mlmodel = top / "MLmodel" if top.is_dir() else None
        if mlmodel is not None and mlmodel.is_file():
            extra.update(_read_mlmodel(mlmodel))
        elif spec.type == AssetTypes.MLFLOW_MODEL:
            raise SpecError(
                f"an mlflow_model needs an MLmodel file at the top of {top.name!r}; point --path "
                "at the folder that mlflow.save_model wrote, or use --type custom_model.",
                details={"field": "path"},
            )
    if isinstance(spec, DataSpec):
        if spec.type == AssetTypes.MLTABLE and not (top / "MLTable").is_file():
            raise SpecError(
                f"mltable data needs an MLTable file at the top of {top.name!r}; add it or use "
                "--type uri_folder.",
                details={"field": "path"},
            )
        if spec.type == AssetTypes.URI_FILE and not top.is_file():
            raise SpecError(
                f"uri_file data must be a file, but {top.name!r} is a folder; "
                "use --type uri_folder.",
                details={"field": "type"},
            )
    if isinstance(spec, EnvironmentSpec) and spec.build is not None:
        dockerfile = top / spec.build.dockerfile_path
        if not dockerfile.is_file():
            raise SpecError(
                f"build context {top.name!r} has no {spec.build.dockerfile_path}; add it or set "
                "build.dockerfile_path.",
                details={"field": "build.dockerfile_path"},
            )
    return extra


def _read_mlmodel(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SpecError(
            f"the MLmodel file is not valid YAML: {exc}; re-save the model with mlflow.",
            details={"field": "path"},
        ) from exc
    facts: dict[str, Any] = {"flavors": data.get("flavors") or {}}
    if isinstance(data.get("signature"), dict):
        signature = {}
        for key, value in data["signature"].items():
            # MLflow stores the column schemas as JSON strings inside the YAML.
            try:
                signature[key] = json.loads(value) if isinstance(value, str) else value
            except json.JSONDecodeError:
                signature[key] = value
        facts["signature"] = signature
    if data.get("utc_time_created"):
        facts["mlflow_created"] = str(data["utc_time_created"])
    return facts


def _inspect_environment(spec: EnvironmentSpec) -> dict[str, Any]:
    conda = spec.conda_file
    if conda is None:
        return {}
    if not isinstance(conda, dict):
        raise SpecError("conda_file must be a mapping.", details={"field": "conda_file"})
    deps = conda.get("dependencies")
    if not isinstance(deps, list):
        raise SpecError(
            "conda_file has no 'dependencies:' list; add one (for example '- python=3.11' and a "
            "'- pip:' section).",
            details={"field": "conda_file.dependencies"},
        )
    pip: list[str] = []
    for dep in deps:
        if isinstance(dep, dict) and "pip" in dep:
            if not isinstance(dep["pip"], list):
                raise SpecError(
                    "conda_file's 'pip:' entry must be a list of requirements.",
                    details={"field": "conda_file.dependencies.pip"},
                )
            pip.extend(str(item) for item in dep["pip"])
    return {"pip_requirements": pip}
