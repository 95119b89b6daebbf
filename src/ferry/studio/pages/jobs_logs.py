"""The job's log viewer: a page per log file, followed live over server-sent events.

The page opens at the file's last :data:`TAIL_BYTES` (numbered from the real line number), with a
link to load it from the start; the stream then sends every line after that. Each event's id is
the byte offset after its lines, so a reconnect (``Last-Event-ID``, or ``?offset=`` when the page
reopens the stream itself) resumes exactly where the page is: no line lost or shown twice.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from ferry.errors import NotFoundError
from ferry.server.paths import safe_child
from ferry.server.routes.deps import WorkspaceDep
from ferry.server.workspace import Workspace
from ferry.studio.auth import Session
from ferry.studio.job_views import is_terminal
from ferry.studio.render import render
from ferry.studio.sse import file_size, follow_file, resume_offset, stream

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: How much of a log the page opens with (its end); "from the start" loads the rest.
TAIL_BYTES = 256 * 1024
_COUNT_CHUNK = 1024 * 1024


def _log_path(workspace: Workspace, name: str, path: str) -> Path:
    workspace.jobs.get(name)  # 404 for an unknown job
    target = safe_child(workspace.jobs.folder(name) / "logs", path, field="path")
    if not target.is_file():
        raise NotFoundError(
            f"job {name!r} has no log file {path!r}; the job page lists its logs.",
            details={"field": "path"},
        )
    return target


def tail_start(path: Path, tail_bytes: int = TAIL_BYTES) -> tuple[int, int]:
    """Where the page starts showing ``path``: ``(byte offset, line number of that line)``.

    The offset is the start of a line at most ``tail_bytes`` before the end; the line number is
    1 + the newlines before it (counted a chunk at a time: a big log is never held whole).
    """
    size = file_size(path)
    if size <= tail_bytes:
        return 0, 1
    with path.open("rb") as handle:
        handle.seek(size - tail_bytes)
        window = handle.read(tail_bytes)
        start = size - tail_bytes + window.find(b"\n") + 1 if b"\n" in window else size
        handle.seek(0)
        lines, read = 0, 0
        while read < start:
            chunk = handle.read(min(_COUNT_CHUNK, start - read))
            if not chunk:
                break
            lines += chunk.count(b"\n")
            read += len(chunk)
    return start, lines + 1


@router.get("/studio/jobs/{name}/logs/{path:path}/stream")
async def log_stream(
    request: Request, name: str, path: str, _: Session, workspace: WorkspaceDep
) -> StreamingResponse:
    """SSE: ``lines`` events (whole lines, ``id:`` = byte offset after them) from
    ``Last-Event-ID`` or ``?offset=``; ``eof`` once the job is finished and the end is sent."""
    target = _log_path(workspace, name, path)
    offset = resume_offset(request)

    def finished() -> bool:
        return is_terminal(workspace.jobs.get(name))

    return stream(follow_file(target, offset, finished=finished))


@router.get("/studio/jobs/{name}/logs/{path:path}", response_class=HTMLResponse)
def log_page(
    request: Request,
    name: str,
    path: str,
    _: Session,
    workspace: WorkspaceDep,
    start: str = Query(default="tail", pattern="^(tail|0)$", description="tail | 0"),
) -> HTMLResponse:
    """The log viewer: follow, search, line numbers, download."""
    target = _log_path(workspace, name, path)
    offset, first_line = tail_start(target) if start == "tail" else (0, 1)
    job = workspace.jobs.get(name)
    return render(
        request,
        "job_log.html",
        job=job,
        log_path=path,
        offset=offset,
        first_line=first_line,
        size=file_size(target),
    )
