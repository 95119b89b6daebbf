"""What the job page shows, computed from the job's record and folder: progress in words, the
failed items of its manifest one page at a time, and its log files.

The page and its event stream both render from here, so a pushed update reads exactly like the
page's first render. Everything that grows with the job's size (the manifest, the logs) is read a
page at a time, streaming through the file rather than holding it in memory.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferry.specs.states import TERMINAL_STATES, JobState

__all__ = [
    "FAILED_PAGE",
    "FailedPage",
    "duration",
    "failed_items",
    "is_terminal",
    "log_files",
    "progress_view",
]

#: Rows of the failed-items table per page.
FAILED_PAGE = 50
#: Log files listed at most (a script may write many files to its log folder).
MAX_LOG_FILES = 500


def is_terminal(job: dict[str, Any]) -> bool:
    return JobState(job["status"]) in TERMINAL_STATES


def duration(seconds: float | None) -> str:
    """``83.2`` -> ``1 min 23 s``; None -> ``unknown``."""
    if seconds is None:
        return "unknown"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def progress_view(job: dict[str, Any]) -> dict[str, Any]:
    """The numbers of the progress panel, ready to print (the record's state wins: it says
    Queued/Preparing before the engine publishes anything, and the final verdict after)."""
    progress = job.get("progress") or {}
    total = int(progress.get("items_total", 0))
    succeeded = int(progress.get("items_succeeded", 0))
    failed = int(progress.get("items_failed", 0))
    done = succeeded + failed
    terminal = is_terminal(job)
    phase = progress.get("state")
    return {
        "status": job["status"],
        "phase": phase if phase and phase != job["status"] else None,
        "has_progress": bool(progress),
        "items_total": total,
        "items_done": done,
        "items_succeeded": succeeded,
        "items_failed": failed,
        "percent": round(100 * done / total, 1) if total else (100.0 if terminal else 0.0),
        "mini_batches_done": int(progress.get("mini_batches_done", 0)),
        "mini_batches_total": int(progress.get("mini_batches_total", 0)),
        "mini_batches_failed": int(progress.get("mini_batches_failed", 0)),
        "items_per_second": float(progress.get("items_per_second", 0.0)),
        "eta": "done" if terminal else duration(progress.get("eta_seconds")),
        "elapsed": duration(progress.get("elapsed_seconds")),
        "activity": progress.get("activity"),
        "warnings": list(progress.get("warnings") or []),
        "error": job.get("error"),
        "terminal": terminal,
    }


@dataclass(frozen=True)
class FailedPage:
    """One page of the manifest's rows that did not succeed."""

    rows: list[dict[str, str]]
    total: int
    offset: int
    #: False while the job runs: the manifest is written when it ends.
    available: bool

    @property
    def next_offset(self) -> int | None:
        end = self.offset + len(self.rows)
        return end if end < self.total else None

    @property
    def previous_offset(self) -> int | None:
        return max(self.offset - FAILED_PAGE, 0) if self.offset else None


def failed_items(manifest: Path, offset: int, limit: int = FAILED_PAGE) -> FailedPage:
    """Rows ``offset .. offset+limit`` of the manifest whose status is not ``succeeded``, and how
    many such rows there are (one pass over the file, one page held)."""
    try:
        handle = manifest.open(newline="", encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return FailedPage([], 0, 0, available=False)
    rows: list[dict[str, str]] = []
    total = 0
    with handle:
        for row in csv.DictReader(handle):
            if row.get("status") == "succeeded":
                continue
            if offset <= total < offset + limit:
                rows.append({key: value or "" for key, value in row.items() if key})
            total += 1
    return FailedPage(rows, total, min(offset, total), available=True)


def log_files(logs: Path) -> list[dict[str, Any]]:
    """The job's log files (paths relative to ``logs/``) with their sizes, sorted by path."""
    found: list[dict[str, Any]] = []
    if not logs.is_dir():
        return found
    for folder, dirs, files in os.walk(logs):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            try:
                size = path.stat().st_size
            except OSError:
                continue
            found.append({"path": path.relative_to(logs).as_posix(), "size": size})
            if len(found) >= MAX_LOG_FILES:
                return found
    found.sort(key=lambda entry: str(entry["path"]))
    return found
