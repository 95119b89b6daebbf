"""``/api/v1/jobs``: show, list, cancel, resume and download batch jobs; read their log files."""

from __future__ import annotations

import mimetypes
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from ferry.archive import pack
from ferry.errors import NotFoundError
from ferry.server.paths import safe_child
from ferry.server.routes.deps import Auth, WorkspaceDep
from ferry.server.routes.params import name_in_path, path_names
from ferry.server.routes.responses import COMMON, COMMON_STATUSES, errors
from ferry.specs.names import JOB_NAME

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/jobs",
    tags=["jobs"],
    dependencies=[Auth, path_names(name=JOB_NAME)],
    responses=COMMON,
)

JobName = Annotated[str, name_in_path(JOB_NAME, "Job name")]

_PARTS = {"named-outputs", "logs"}


@router.get("", summary="List jobs")
def list_jobs(
    workspace: WorkspaceDep,
    endpoint_name: str | None = Query(default=None, description="Only this endpoint's jobs."),
    deployment_name: str | None = Query(default=None, description="Only this deployment's."),
) -> Any:
    return {"value": workspace.jobs.list(endpoint_name, deployment_name), "next_page_token": None}


@router.get("/{name}", responses=errors(404), summary="Show a job with live progress")
def get_job(name: JobName, workspace: WorkspaceDep) -> Any:
    return workspace.jobs.get(name)


@router.post("/{name}/cancel", responses=errors(404, 409), summary="Cancel a job")
def cancel_job(name: JobName, workspace: WorkspaceDep) -> Any:
    return workspace.jobs.cancel(name)


@router.post(
    "/{name}/resume",
    responses=errors(404, 409),
    summary="Rerun only the mini-batches that did not succeed",
)
def resume_job(name: JobName, workspace: WorkspaceDep) -> Any:
    return workspace.jobs.resume(name)


@router.get(
    "/{name}/download",
    response_class=FileResponse,
    responses={
        200: {
            "description": "A tar.gz archive of the part.",
            "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}},
        },
        **errors(404),
    },
    summary="Download outputs or logs",
)
def download_job(
    name: JobName,
    workspace: WorkspaceDep,
    # A Literal, so OpenAPI lists the two parts (FastAPI answers 422 for any other).
    part: Literal["named-outputs", "logs"] = Query(
        default="named-outputs", description="named-outputs | logs."
    ),
) -> FileResponse:
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


@router.get("/{name}/files", responses=errors(404), summary="List a job's log and output files")
def list_files(name: JobName, workspace: WorkspaceDep) -> Any:
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


@router.get(
    "/{name}/files/{path:path}",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The file's exact bytes, with its content type (text/plain for logs, "
            "image/png for a PNG ...). With ``offset``, at most 4 MiB from that byte; the "
            "x-ferry-next-offset header says where the next read starts.",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            "headers": {
                "x-ferry-next-offset": {
                    "description": "The byte after the last one sent (for tailing).",
                    "schema": {"type": "integer"},
                }
            },
        },
        **errors(*COMMON_STATUSES, 404, by_ref=True),
    },
    summary="Read a file",
)
def read_file(
    name: JobName,
    path: Annotated[
        str,
        PathParam(description="A file under logs/ or named-outputs/, as the listing names it."),
    ],
    workspace: WorkspaceDep,
    offset: int | None = Query(
        default=None,
        ge=0,
        description="Start at this byte and send at most 4 MiB (for tailing); without it, the "
        "whole file.",
    ),
) -> Response:
    workspace.jobs.get(name)
    target = safe_child(workspace.jobs.folder(name), path, field="path", tops=_PARTS)
    if not target.is_file():
        raise NotFoundError(f"job {name!r} has no file {path!r}.")
    media = media_type(target)
    if offset is None:
        size = target.stat().st_size
        if size > _CHUNK:  # streamed; a log still growing is read with offsets instead
            return FileResponse(target, media_type=media, headers={_NEXT: str(size)})
        data = target.read_bytes()
        return Response(data, media_type=media, headers={_NEXT: str(len(data))})
    with target.open("rb") as handle:
        handle.seek(offset)
        data = handle.read(_CHUNK)
    return Response(data, media_type=media, headers={_NEXT: str(offset + len(data))})


_NEXT = "x-ferry-next-offset"
_CHUNK = 4 * 1024 * 1024
#: Log and report suffixes the mimetypes table does not know; they are UTF-8 text.
_TEXT_SUFFIXES = {".log", ".out", ".err", ".jsonl", ".yml", ".yaml", ".md"}


def media_type(path: Path) -> str:
    """The file's content type by its name; text types say UTF-8, unknown ones are binary."""
    guessed, encoding = mimetypes.guess_type(path.name)
    if encoding is not None:  # a .csv.gz is gzip, not text/csv
        return {"gzip": "application/gzip", "bzip2": "application/x-bzip2"}.get(
            encoding, "application/octet-stream"
        )
    if guessed is None:
        guessed = "text/plain" if path.suffix.lower() in _TEXT_SUFFIXES else None
    if guessed is None:
        return "application/octet-stream"
    if guessed.startswith("text/") or guessed in ("application/json", "application/xml"):
        return f"{guessed}; charset=utf-8"
    return guessed
