"""The jobs list and the job page: live progress and workers over SSE, failed items, resume/cancel.

Reads go through the same :class:`~ferry.server.jobs.JobService` as ``/api/v1/jobs`` (the record
and ``progress.json``); the worker table folds the job's journal (:mod:`ferry.batch.worker_table`).
The progress stream re-reads both every :data:`POLL_S` (the engine publishes every 0.5 s, and at
once on a state change), so the page lags the engine by well under a second.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from ferry.batch.definition import JobLayout
from ferry.server.routes.deps import WorkspaceDep
from ferry.server.workspace import Workspace
from ferry.studio.auth import Csrf, Session
from ferry.studio.job_views import (
    failed_items,
    is_terminal,
    log_files,
    progress_view,
    worker_slots,
)
from ferry.studio.render import environment, render
from ferry.studio.sse import event, server_stopping, stream

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: Jobs per page of the jobs list.
JOBS_PAGE = 50
#: How often the progress stream looks at the job (seconds).
POLL_S = 0.25
#: The list of log files is looked at every this many looks (2 s).
LOGS_EVERY = 8


@router.get("/studio/jobs", response_class=HTMLResponse)
def jobs_list(
    request: Request,
    _: Session,
    workspace: WorkspaceDep,
    offset: int = Query(default=0, ge=0),
) -> HTMLResponse:
    """Every batch job, newest first, a page at a time (reading no row past the page's end)."""
    jobs = workspace.jobs.list(limit=offset + JOBS_PAGE + 1)
    return render(
        request,
        "jobs_list.html",
        jobs=jobs[offset : offset + JOBS_PAGE],
        more=len(jobs) > offset + JOBS_PAGE,
        offset=offset,
        page_size=JOBS_PAGE,
    )


def _job_context(workspace: Workspace, name: str) -> dict[str, Any]:
    job = workspace.jobs.get(name)
    layout = JobLayout(workspace.jobs.folder(name))
    return {
        "job": job,
        "p": progress_view(job),
        "slots": worker_slots(layout.journal),
        "logs": log_files(layout.logs),
        "has_outputs": layout.outputs.is_dir(),
        "can_resume": is_terminal(job) and layout.definition.is_file(),
    }


@router.get("/studio/jobs/{name}", response_class=HTMLResponse)
def job_page(
    request: Request,
    name: str,
    _: Session,
    workspace: WorkspaceDep,
    failed_offset: int = Query(default=0, ge=0),
) -> HTMLResponse:
    """The job: progress, workers, logs, outputs and failed items."""
    context = _job_context(workspace, name)
    page = failed_items(JobLayout(workspace.jobs.folder(name)).manifest, failed_offset)
    return render(request, "job.html", failed=page, **context)


@router.get("/studio/jobs/{name}/failed", response_class=HTMLResponse)
def job_failed(
    request: Request,
    name: str,
    _: Session,
    workspace: WorkspaceDep,
    offset: int = Query(default=0, ge=0),
) -> Response:
    """One page of the failed-items table (the page swaps it in with htmx; without script,
    the link opens the job page at that page of the table)."""
    if "hx-request" not in request.headers:
        target = f"/studio/jobs/{quote(name)}?failed_offset={offset}#failed-h"
        return RedirectResponse(target, status_code=303)
    job = workspace.jobs.get(name)
    page = failed_items(JobLayout(workspace.jobs.folder(name)).manifest, offset)
    return render(request, "job_failed.html", job=job, failed=page)


def _fragment(template: str, **context: Any) -> str:
    return environment.get_template(template).render(**context)


@router.get("/studio/jobs/{name}/events")
async def job_events(name: str, _: Session, workspace: WorkspaceDep) -> StreamingResponse:
    """Server-sent events: ``progress``, ``workers`` and ``logs`` (HTML fragments, re-rendered
    when they change), and ``done`` once the job is finished (the page then closes the stream)."""
    workspace.jobs.get(name)  # 404 before the stream starts
    layout = JobLayout(workspace.jobs.folder(name))
    journal, logs_folder = layout.journal, layout.logs

    async def events() -> AsyncIterator[bytes]:
        yield b"retry: 1000\n\n"
        sent_progress = sent_workers = sent_logs = None
        tick = 0
        while not server_stopping():
            job = await asyncio.to_thread(workspace.jobs.get, name)
            slots = await asyncio.to_thread(worker_slots, journal)
            progress = _fragment("job_progress.html", job=job, p=progress_view(job))
            if progress != sent_progress:
                sent_progress = progress
                yield event(progress, name="progress")
            workers = _fragment("job_workers.html", slots=slots)
            if workers != sent_workers:
                sent_workers = workers
                yield event(workers, name="workers")
            if tick % LOGS_EVERY == 0:  # a walk of the logs folder: not at every tick
                logs = await asyncio.to_thread(log_files, logs_folder)
                listing = _fragment("job_logs.html", job=job, logs=logs)
                if listing != sent_logs:
                    sent_logs = listing
                    yield event(listing, name="logs")
            tick += 1
            if is_terminal(job):
                yield event(job["status"], name="done")
                return
            await asyncio.sleep(POLL_S)

    return stream(events())


@router.post("/studio/jobs/{name}/cancel")
def job_cancel(name: str, _: Csrf, workspace: WorkspaceDep) -> Response:
    """Cancel the job (a finished one is left as it is), back to its page."""
    workspace.jobs.cancel(name)
    return RedirectResponse(f"/studio/jobs/{quote(name)}", status_code=303)


@router.post("/studio/jobs/{name}/resume")
def job_resume(name: str, _: Csrf, workspace: WorkspaceDep) -> Response:
    """Rerun only the mini-batches that did not succeed, back to the job's page."""
    workspace.jobs.resume(name)
    return RedirectResponse(f"/studio/jobs/{quote(name)}", status_code=303)
