"""Replica logs on the online endpoint page: which files a deployment has, and where to start.

Following a log is the studio's shared SSE follower (:mod:`ferry.studio.sse`, whose events'
ids are byte offsets, so ``Last-Event-ID`` resumes without a line lost or repeated) and the
shared log viewer of ``static/job.js`` (follow, search, line numbers; lines inserted as text).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ferry.errors import NotFoundError
from ferry.server.workspace import Workspace
from ferry.studio.pages.jobs_logs import tail_start

__all__ = ["log_file", "log_files", "logs_view"]


def _folder(workspace: Workspace, endpoint: str, deployment: str) -> Path:
    # Where the online service keeps a deployment's logs (OnlineService.logs reads the same).
    return workspace.layout.root / "online" / endpoint / deployment / "logs"


def log_files(folder: Path) -> list[str]:
    """The deployment's log files: one per replica, and ``prepare.log`` (its preparation)."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.glob("*.log") if p.is_file())


def log_file(workspace: Workspace, endpoint: str, deployment: str, name: str) -> Path:
    """The path of one of the deployment's logs; 404 naming the ones it has otherwise."""
    folder = _folder(workspace, endpoint, deployment)
    files = log_files(folder)
    if name not in files:  # only a listed name: no path from the request reaches the disk
        raise NotFoundError(
            f"deployment {deployment!r} has no log {name!r}; its logs are: "
            f"{', '.join(files) or 'none yet'}.",
            details={"field": "file"},
        )
    return folder / name


def logs_view(
    workspace: Workspace, endpoint: str, deployments: list[str], deployment: str, name: str
) -> dict[str, Any]:
    """What the Logs tab shows: the picked deployment and file, where its viewer starts."""
    chosen = deployment or (deployments[0] if deployments else "")
    if chosen and chosen not in deployments:
        raise NotFoundError(
            f"endpoint {endpoint!r} has no deployment {chosen!r}; its deployments are: "
            f"{', '.join(deployments) or 'none'}.",
            details={"field": "deployment"},
        )
    view: dict[str, Any] = {"deployments": deployments, "deployment": chosen, "files": []}
    view.update(file="", offset=0, first_line=1)
    if not chosen:
        return view
    files = log_files(_folder(workspace, endpoint, chosen))
    view["files"] = files
    wanted = name or next((f for f in files if f != "prepare.log"), "")
    if wanted:
        offset, first_line = tail_start(log_file(workspace, endpoint, chosen, wanted))
        view.update(file=wanted, offset=offset, first_line=first_line)
    return view
