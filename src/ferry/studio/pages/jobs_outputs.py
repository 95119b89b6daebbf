"""A job's outputs browser: folders (paged), CSV as paged tables, text previews, an image gallery.

Everything is paged on the server (a job of 100,000 items can write 100,000 images): the gallery
sends :data:`GALLERY_PAGE` thumbnails per page and a full-size view per image, with previous and
next links (the arrow keys follow them). Files are served by
:func:`ferry.studio.files.file_response`: raster images inline, anything else as an attachment,
never as HTML on the studio's origin.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ferry.errors import InvalidInputError, NotFoundError
from ferry.server.paths import safe_child
from ferry.server.routes.deps import WorkspaceDep
from ferry.server.workspace import Workspace
from ferry.studio import files
from ferry.studio.auth import Session
from ferry.studio.csv_pages import read_csv_page
from ferry.studio.render import render
from ferry.studio.thumbnails import thumbnail

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: Thumbnails per gallery page.
GALLERY_PAGE = 48
_TABLE_SUFFIXES = {".csv", ".tsv"}
_PARTS = {"logs", "named-outputs"}


def _outputs_root(workspace: Workspace, name: str) -> Path:
    workspace.jobs.get(name)  # 404 for an unknown job
    root = workspace.jobs.folder(name) / "named-outputs"
    if not root.is_dir():
        raise NotFoundError(
            f"job {name!r} has no outputs yet; they appear once a mini-batch is done.",
            details={"field": "name"},
        )
    return root


#: Raster image suffixes without their dot, to test a name with plain string operations.
_IMAGE_SUFFIXES = {suffix.lstrip(".") for suffix in files.IMAGE_TYPES}
#: Image lists of recently browsed jobs: ``{root: ([(folder, mtime_ns)], images)}``.
_gallery_cache: dict[str, tuple[list[tuple[str, int]], list[str]]] = {}
_CACHED_GALLERIES = 4
_cache_lock = threading.Lock()


def images(root: Path) -> list[str]:
    """Every raster image under ``root``, as sorted relative paths.

    A job can write 100,000 images: the list is kept for the next page, valid while no folder of
    the tree has changed (adding or removing an entry changes its folder's mtime, a new folder
    its parent's), which costs one stat per folder instead of a listing of every file.
    """
    key = str(root)
    with _cache_lock:
        cached = _gallery_cache.get(key)
    if cached is not None and all(_mtime(root, rel) == stamp for rel, stamp in cached[0]):
        return cached[1]
    stamps, found = _scan(root)
    with _cache_lock:
        _gallery_cache[key] = (stamps, found)
        while len(_gallery_cache) > _CACHED_GALLERIES:
            _gallery_cache.pop(next(iter(_gallery_cache)))
    return found


def _mtime(root: Path, rel: str) -> int:
    try:
        return (root / rel).stat().st_mtime_ns
    except OSError:
        return -1


def _scan(root: Path) -> tuple[list[tuple[str, int]], list[str]]:
    """The folders (with their mtimes, taken before listing them) and the images under root;
    os.scandir and plain strings, since a Path per entry costs seconds at 100,000 files."""
    found: list[str] = []
    stamps: list[tuple[str, int]] = []
    folders = [""]
    while folders:
        rel = folders.pop()
        stamps.append((rel, _mtime(root, rel)))
        with os.scandir(root / rel) as entries:
            for entry in entries:
                name = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_dir(follow_symlinks=False):
                    folders.append(name)
                elif entry.name.rpartition(".")[2].lower() in _IMAGE_SUFFIXES:
                    found.append(name)
    found.sort()
    return stamps, found


def _crumbs(rel: str) -> list[tuple[str, str]]:
    parts = [p for p in rel.split("/") if p]
    return [(part, "/".join(parts[: i + 1])) for i, part in enumerate(parts)]


@router.get("/studio/jobs/{name}/outputs", response_class=HTMLResponse)
def outputs_home(name: str, _: Session, workspace: WorkspaceDep) -> Response:
    """The ``score`` output's folder (where ``predictions.csv`` and the script's files are)."""
    root = _outputs_root(workspace, name)
    rel = "score" if (root / "score").is_dir() else ""
    target = f"/studio/jobs/{quote(name)}/outputs/files/{rel}"
    return RedirectResponse(target, status_code=303)


@router.get("/studio/jobs/{name}/outputs/files/{rel:path}", response_class=HTMLResponse)
def outputs_file(
    request: Request,
    name: str,
    rel: str,
    _: Session,
    workspace: WorkspaceDep,
    offset: int = Query(default=0, ge=0),
) -> HTMLResponse:
    """A folder (paged), a CSV file as a paged table, an image, or a text preview."""
    root = _outputs_root(workspace, name)
    target = files.resolve(root, rel) if rel.strip("/") else root
    folder = files.list_folder(root, rel, offset=offset) if target.is_dir() else None
    table = preview = None
    is_image = folder is None and target.suffix.lower() in files.IMAGE_TYPES
    if folder is None and not is_image:
        if target.suffix.lower() in _TABLE_SUFFIXES:
            table = read_csv_page(target, offset)
        else:
            preview = files.read_preview(target)
    return render(
        request,
        "job_outputs.html",
        job=workspace.jobs.get(name),
        base=f"/studio/jobs/{quote(name)}/outputs",
        rel=rel.strip("/"),
        crumbs=_crumbs(rel),
        folder=folder,
        size=None if folder is not None else target.stat().st_size,
        is_image=is_image,
        table=table,
        preview=preview,
    )


@router.get("/studio/jobs/{name}/outputs/raw/{rel:path}")
def outputs_raw(
    name: str, rel: str, _: Session, workspace: WorkspaceDep, download: bool = False
) -> Response:
    """An output file's bytes (images inline, for thumbnails; anything else as a download)."""
    return files.raw_file(
        _outputs_root(workspace, name),
        rel,
        download=download,
        whole=f"download the outputs with `ferry job download --name {name}`.",
    )


@router.get("/studio/jobs/{name}/outputs/thumb/{rel:path}")
def outputs_thumbnail(name: str, rel: str, _: Session, workspace: WorkspaceDep) -> Response:
    """A gallery thumbnail (:mod:`ferry.studio.thumbnails`) of an image output."""
    target = files.resolve(_outputs_root(workspace, name), rel)
    if target.suffix.lower() not in files.IMAGE_TYPES:
        raise InvalidInputError(
            f"path {rel!r} is not an image ({', '.join(sorted(files.IMAGE_TYPES))}); open it "
            "from the outputs browser instead.",
            details={"field": "path"},
        )
    small = thumbnail(target, workspace.layout.tmp / "studio-thumbnails")
    return files.file_response(small, download=False)


@router.get("/studio/jobs/{name}/files/{path:path}")
def job_file(
    name: str, path: str, _: Session, workspace: WorkspaceDep, download: bool = False
) -> Response:
    """A file under the job's ``logs/`` or ``named-outputs/`` (the log viewer's download)."""
    workspace.jobs.get(name)
    target = safe_child(workspace.jobs.folder(name), path, field="path", tops=_PARTS)
    if not target.is_file():
        raise NotFoundError(f"job {name!r} has no file {path!r}.", details={"field": "path"})
    return files.file_response(target, download=download)


@router.get("/studio/jobs/{name}/outputs/gallery", response_class=HTMLResponse)
def gallery(
    request: Request,
    name: str,
    _: Session,
    workspace: WorkspaceDep,
    offset: int = Query(default=0, ge=0),
) -> HTMLResponse:
    """A page of thumbnails of every image output."""
    found = images(_outputs_root(workspace, name))
    return render(
        request,
        "job_gallery.html",
        job=workspace.jobs.get(name),
        base=f"/studio/jobs/{quote(name)}/outputs",
        images=found[offset : offset + GALLERY_PAGE],
        total=len(found),
        offset=offset,
        page_size=GALLERY_PAGE,
    )


@router.get("/studio/jobs/{name}/outputs/gallery/{index}", response_class=HTMLResponse)
def gallery_image(
    request: Request, name: str, index: int, _: Session, workspace: WorkspaceDep
) -> HTMLResponse:
    """One image at full size, with the previous and next ones a key press away."""
    found = images(_outputs_root(workspace, name))
    if not 0 <= index < len(found):
        raise NotFoundError(
            f"image {index} is not in this job's gallery; it has {len(found)} images "
            f"(0 to {len(found) - 1}).",
            details={"field": "index"},
        )
    return render(
        request,
        "job_image.html",
        job=workspace.jobs.get(name),
        base=f"/studio/jobs/{quote(name)}/outputs",
        image=found[index],
        index=index,
        total=len(found),
        page_offset=index - index % GALLERY_PAGE,
    )
