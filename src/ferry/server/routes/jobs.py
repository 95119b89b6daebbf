"""``/api/v1/jobs``: show, list, cancel, resume and download batch jobs; read their log files."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, PlainTextResponse
from starlette.background import BackgroundTask

from ferry.archive import pack
from ferry.errors import InvalidInputError, NotFoundError
from ferry.server.paths import safe_child
from ferry.server.routes.deps import Auth, WorkspaceDep
from ferry.server.routes.params import path_names
from ferry.specs.names import JOB_NAME

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/jobs", tags=["jobs"], dependencies=[Auth, path_names(name=JOB_NAME)]
)

_PARTS = {"named-outputs", "logs"}


@router.get("", summary="List jobs")
def list_jobs(
    workspace: WorkspaceDep,
    endpoint_name: str | None = Query(default=None, description="Only this endpoint's jobs."),
    deployment_name: str | None = Query(default=None, description="Only this deployment's."),
) -> Any:
    return {"value": workspace.jobs.list(endpoint_name, deployment_name), "next_page_token": None}


@router.get("/{name}", summary="Show a job with live progress")
def get_job(name: str, workspace: WorkspaceDep) -> Any:
    return workspace.jobs.get(name)


@router.post("/{name}/cancel", summary="Cancel a job")
def cancel_job(name: str, workspace: WorkspaceDep) -> Any:
    return workspace.jobs.cancel(name)


@router.post("/{name}/resume", summary="Rerun only the mini-batches that did not succeed")
def resume_job(name: str, workspace: WorkspaceDep) -> Any:
    return workspace.jobs.resume(name)


@router.get("/{name}/download", response_class=FileResponse, summary="Download outputs or logs")
def download_job(
    name: str,
    workspace: WorkspaceDep,
    part: str = Query(default="named-outputs", description="named-outputs | logs."),
) -> FileResponse:
    if part not in _PARTS:
        raise InvalidInputError(f"part {part!r} is unknown; use named-outputs or logs.")
    workspace.jobs.get(name)
    source = workspace.jobs.folder(name) / part
    if not source.exists():
        raise NotFoundError(f"job {name!r} has no {part} yet.")
    tmp = Path(tempfile.mkdtemp(prefix="job-download-", dir=workspace.layout.tmp))
    archive = tmp / f"{part}.tar.gz"
    with archive.open("wb") as out:
        pack(source, out)
    return FileResponse(
        archive,
        media_type="application/gzip",
        filename=f"{name}-{part}.tar.gz",
        background=BackgroundTask(shutil.rmtree, tmp, True),
    )


@router.get("/{name}/files", summary="List a job's log and output files")
def list_files(name: str, workspace: WorkspaceDep) -> Any:
    workspace.jobs.get(name)
    root = workspace.jobs.folder(name)
    files = []
    for part in sorted(_PARTS):
        base = root / part
        if base.is_dir():
            for path in sorted(base.rglob("*")):
                if path.is_file():
                    files.append(
                        {"path": path.relative_to(root).as_posix(), "size": path.stat().st_size}
                    )
    return {"value": files}


@router.get("/{name}/files/{path:path}", response_class=PlainTextResponse, summary="Read a file")
def read_file(
    name: str,
    path: str,
    workspace: WorkspaceDep,
    offset: int = Query(default=0, ge=0, description="Start at this byte (for tailing)."),
) -> PlainTextResponse:
    workspace.jobs.get(name)
    target = safe_child(workspace.jobs.folder(name), path, field="path", tops=_PARTS)
    if not target.is_file():
        raise NotFoundError(f"job {name!r} has no file {path!r}.")
    with target.open("rb") as handle:
        handle.seek(offset)
        data = handle.read(4 * 1024 * 1024)
    return PlainTextResponse(
        data.decode("utf-8", errors="replace"),
        headers={"x-ferry-next-offset": str(offset + len(data))},
    )
