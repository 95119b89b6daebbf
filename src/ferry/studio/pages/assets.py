"""Asset pages: models, data, environments and code, with versions, tags and files.

An environment's page adds what the build cache holds for it (``environments/catalog.py``): each
build's resolution report, installed packages and log, and the logs of failed builds.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import yaml
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from ferry.environments import normalize_environment
from ferry.environments.catalog import builds_of, failed_builds_of
from ferry.errors import InvalidInputError, NotFoundError, SpecError
from ferry.server.routes.assets import Collection, download_asset
from ferry.server.routes.deps import WorkspaceDep
from ferry.server.workspace import Workspace
from ferry.specs.assets import AssetKind, EnvironmentSpec
from ferry.store.base import AssetRecord
from ferry.studio import files
from ferry.studio.auth import Csrf, Session
from ferry.studio.render import SECURITY_HEADERS, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: URL segment -> kind; the REST API's collection names.
KINDS = {kind.collection: kind for kind in AssetKind}
#: Longest tag key and value the form takes (the page shows them in full).
TAG_KEY_MAX = 256
TAG_VALUE_MAX = 2048


def _kind(collection: str) -> AssetKind:
    kind = KINDS.get(collection)
    if kind is None:
        raise NotFoundError(
            f"there is no asset kind {collection!r}; the studio has {', '.join(sorted(KINDS))}.",
            details={"field": "kind"},
        )
    return kind


def _base(collection: str, name: str, version: str) -> str:
    return f"/studio/assets/{collection}/{quote(name, safe='')}/{quote(version, safe='')}"


@router.get("/studio/assets", response_class=HTMLResponse)
def assets_home() -> Response:
    return RedirectResponse("/studio/assets/models", status_code=303)


@router.get("/studio/assets/{collection}", response_class=HTMLResponse)
def asset_list(
    request: Request,
    collection: str,
    _: Session,
    workspace: WorkspaceDep,
    page_token: str | None = None,
) -> HTMLResponse:
    """Every version of every asset of one kind, one page at a time."""
    kind = _kind(collection)
    page = workspace.assets.list(kind, limit=100, page_token=page_token)
    return render(
        request,
        "assets_list.html",
        kind=kind,
        collection=collection,
        collections=KINDS,
        assets=page.items,
        next_token=page.next_token,
    )


@router.get("/studio/assets/{collection}/{name}", response_class=HTMLResponse)
def asset_versions(
    request: Request, collection: str, name: str, _: Session, workspace: WorkspaceDep
) -> HTMLResponse:
    """One asset's versions, archived ones included."""
    kind = _kind(collection)
    versions = workspace.assets.list(kind, name, include_archived=True, limit=500).items
    if not versions:
        raise NotFoundError(
            f"{kind.value} {name!r} does not exist; see the {collection} list.",
            details={"field": "name"},
        )
    return render(
        request,
        "assets_versions.html",
        kind=kind,
        collection=collection,
        name=name,
        versions=versions,
    )


def _version(
    workspace: Workspace, collection: str, name: str, version: str
) -> tuple[AssetKind, AssetRecord]:
    """The kind a page's collection names and the version's record (NotFoundError if none)."""
    kind = _kind(collection)
    return kind, workspace.assets.record(kind, name, version)


def _browsable_root(workspace: Workspace, record: AssetRecord) -> Any:
    """The version's files on this machine; NotFoundError saying why where there are none."""
    root, no_files = _files_root(workspace, record)
    if root is None:
        raise NotFoundError(no_files or "this version has no files.", details={"field": "path"})
    return root


def _files_root(workspace: Workspace, record: AssetRecord) -> tuple[Any, str | None]:
    """(the asset's bytes on this machine or None, why they cannot be browsed)."""
    uri = str(record.spec.get("path") or "")
    if not uri:
        return None, None
    if not uri.startswith("azureml://"):
        return None, f"this version references {uri}; Ferry did not store its files."
    root = workspace.assets.local_path(record)
    if root is None:
        return None, (
            f"its files are in a remote datastore ({uri}); download them with "
            f"`ferry {record.kind.value} download --name {record.name} --version {record.version}`."
        )
    if not root.exists():
        return None, f"its files are missing from the datastore ({uri})."
    return root, None


def _environment_report(workspace: Workspace, record: AssetRecord) -> dict[str, Any]:
    """The resolution as Ferry reads the spec, and what the build cache holds for it."""
    fields = {k: v for k, v in record.spec.items() if k in EnvironmentSpec.model_fields}
    conda = record.spec.get("conda_file")
    report: dict[str, Any] = {
        "conda_yaml": yaml.safe_dump(conda, sort_keys=False) if isinstance(conda, dict) else None,
        "resolved": None,
        "problem": None,
        "builds": [],
        "failed": [],
    }
    try:
        resolved = normalize_environment(
            EnvironmentSpec.model_validate({**fields, "name": record.name})
        )
    except SpecError as exc:
        report["problem"] = exc.message
        return report
    report["resolved"] = resolved
    report["builds"] = builds_of(workspace.environments, resolved)
    report["failed"] = failed_builds_of(workspace.environments, resolved)
    return report


@router.get("/studio/assets/{collection}/{name}/{version}", response_class=HTMLResponse)
def asset_version(
    request: Request,
    collection: str,
    name: str,
    version: str,
    _: Session,
    workspace: WorkspaceDep,
    offset: int = 0,
) -> HTMLResponse:
    """One version: its fields, tags, files and, for an environment, its builds."""
    kind, record = _version(workspace, collection, name, version)
    root, no_files = _files_root(workspace, record)
    folder = files.list_folder(root, offset=max(offset, 0)) if root is not None else None
    return render(
        request,
        "assets_version.html",
        kind=kind,
        collection=collection,
        asset=workspace.assets.get(kind, name, version),
        base=_base(collection, name, version),
        folder=folder,
        no_files=no_files,
        environment=(
            _environment_report(workspace, record) if kind is AssetKind.ENVIRONMENT else None
        ),
    )


@router.get(
    "/studio/assets/{collection}/{name}/{version}/files/{rel:path}", response_class=HTMLResponse
)
def asset_file(
    request: Request,
    collection: str,
    name: str,
    version: str,
    rel: str,
    _: Session,
    workspace: WorkspaceDep,
    offset: int = 0,
) -> HTMLResponse:
    """A folder of the version's files (paged), or one file previewed."""
    kind, record = _version(workspace, collection, name, version)
    root = _browsable_root(workspace, record)
    target = files.resolve(root, rel)
    folder = files.list_folder(root, rel, offset=max(offset, 0)) if target.is_dir() else None
    preview = None
    if folder is None and not files.Entry(target.name, rel, False, None).is_image:
        preview = files.read_preview(target)
    return render(
        request,
        "assets_file.html",
        kind=kind,
        collection=collection,
        asset=workspace.assets.get(kind, name, version),
        base=_base(collection, name, version),
        rel=rel.strip("/"),
        crumbs=_crumbs(rel),
        folder=folder,
        size=None if folder is not None else target.stat().st_size,
        is_image=folder is None and target.suffix.lower() in files.IMAGE_TYPES,
        preview=preview,
    )


def _crumbs(rel: str) -> list[tuple[str, str]]:
    """``a/b/c`` -> [(a, a), (b, a/b), (c, a/b/c)]: the breadcrumb links of a path."""
    parts = [p for p in rel.split("/") if p]
    return [(part, "/".join(parts[: i + 1])) for i, part in enumerate(parts)]


@router.get("/studio/assets/{collection}/{name}/{version}/raw/{rel:path}")
def asset_raw(
    collection: str,
    name: str,
    version: str,
    rel: str,
    _: Session,
    workspace: WorkspaceDep,
    download: bool = False,
) -> Response:
    """One file's bytes (images inline for previews; anything else as a download)."""
    kind, record = _version(workspace, collection, name, version)
    return files.raw_file(
        _browsable_root(workspace, record),
        rel,
        download=download,
        whole="download files one by one, or the whole version with "
        f"`ferry {kind.value} download --name {name} --version {version}`.",
    )


@router.get("/studio/assets/{collection}/{name}/{version}/download")
def asset_download(
    collection: str, name: str, version: str, _: Session, workspace: WorkspaceDep
) -> Response:
    """The whole version as a tar.gz: the API's own download, behind the session."""
    _kind(collection)
    return download_asset(Collection(collection), name, version, workspace)


@router.get("/studio/assets/environments/{name}/{version}/builds/{build}/{which}")
def environment_build_file(
    name: str, version: str, build: str, which: str, _: Session, workspace: WorkspaceDep
) -> Response:
    """A build's log (``log``) or installed packages (``freeze``), or a failed build's log."""
    record = workspace.assets.record(AssetKind.ENVIRONMENT, name, version)
    report = _environment_report(workspace, record)
    # Only builds found for this environment are served: the URL never names a path.
    paths = {(b.hash, "log"): b.log_path for b in report["builds"]}
    paths |= {(b.hash, "freeze"): b.freeze_path for b in report["builds"]}
    paths |= {(f"failed-{f.stamp}", "log"): f.log_path for f in report["failed"]}
    path = paths.get((build, which))
    if path is None or not path.is_file():
        raise NotFoundError(
            f"environment {name}:{version} has no build {build!r} with a {which!r} file; "
            "see the builds on the environment's page.",
            details={"field": "build"},
        )
    text = path.read_text(encoding="utf-8", errors="replace")
    return PlainTextResponse(
        text, headers={**SECURITY_HEADERS, "Content-Security-Policy": "sandbox"}
    )


@router.post("/studio/assets/{collection}/{name}/{version}/tags")
def edit_tags(
    collection: str,
    name: str,
    version: str,
    _: Csrf,
    workspace: WorkspaceDep,
    key: Annotated[str, Form()] = "",
    value: Annotated[str, Form()] = "",
    remove: Annotated[str | None, Form()] = None,
) -> Response:
    """Add or change one tag (``key``, ``value``), or remove one (``remove``)."""
    kind = _kind(collection)
    tags = dict(workspace.assets.get(kind, name, version).get("tags") or {})
    if remove is not None:
        if remove not in tags:
            raise NotFoundError(
                f"{kind.value} {name}:{version} has no tag {remove!r} to remove.",
                details={"field": "remove"},
            )
        del tags[remove]
    else:
        key = key.strip()
        if not key or len(key) > TAG_KEY_MAX or len(value) > TAG_VALUE_MAX:
            raise InvalidInputError(
                f"a tag needs a key of 1 to {TAG_KEY_MAX} characters and a value of at most "
                f"{TAG_VALUE_MAX}; fix the key field and submit again.",
                details={"field": "key" if not key or len(key) > TAG_KEY_MAX else "value"},
            )
        tags[key] = value
    workspace.assets.update(kind, name, version, tags=tags)
    return RedirectResponse(_base(collection, name, version) + "#tags", status_code=303)
