"""The overview page: endpoints, recent jobs with their progress, the store and datastores."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ferry.server.routes.deps import WorkspaceDep
from ferry.studio.auth import Session
from ferry.studio.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: Jobs the overview lists (newest first); the jobs page has them all.
RECENT_JOBS = 10


def _store_url(url: str) -> str:
    """The store's URL without its password: the page is for looking, not for credentials."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


@router.get("/studio/", response_class=HTMLResponse)
def overview(request: Request, _: Session, workspace: WorkspaceDep) -> HTMLResponse:
    """Endpoints (online and batch), recent jobs, the workspace's store and datastores."""
    jobs: list[dict[str, Any]] = []
    for listed in workspace.jobs.list(limit=RECENT_JOBS):
        jobs.append(workspace.jobs.get(listed["name"]))  # get() adds the live progress
    return render(
        request,
        "overview.html",
        online_endpoints=workspace.online.list_endpoints(),
        batch_endpoints=workspace.batch.list_endpoints(),
        jobs=jobs,
        datastores=workspace.datastores.list(limit=100).items,
        workspace_folder=str(workspace.layout.root),
        store_url=_store_url(workspace.settings.resolved_store_url),
    )


@router.get("/studio", include_in_schema=False)
def overview_no_slash() -> HTMLResponse:
    """``/studio`` is the overview too (the gate has already checked the session)."""
    return HTMLResponse(status_code=308, headers={"Location": "/studio/"})
