"""What the job page shows, computed from the job's record and folder: progress in words, the
failed items of its manifest one page at a time, and its log files.

The page and its event stream both render from here, so a pushed update reads exactly like the
page's first render. Everything that grows with the job's size (the manifest, the logs) is read a
page at a time, streaming through the file rather than holding it in memory.
"""

from __future__ import annotations

import copy
import csv
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferry.batch.worker_table import WorkerSlot, WorkerTable
from ferry.specs.states import TERMINAL_STATES, JobState

__all__ = [
    "FAILED_PAGE",
    "FailedPage",
    "duration",
    "failed_items",
    "is_terminal",
    "log_files",
    "progress_view",
    "worker_slots",
]

#: Rows of the failed-items table per page.
FAILED_PAGE = 50
#: Log files listed at most (a script may write many files to its log folder).
MAX_LOG_FILES = 500
#: The manifest's columns, as the failed-items table shows them.
MANIFEST_COLUMNS = ("file", "status", "mini_batch", "attempts", "error", "seconds")
#: Manifests whose failed rows are kept in memory (a few jobs' pages open at once).
_CACHED_MANIFESTS = 4
_failed_cache: dict[tuple[str, int, int], list[tuple[str, ...]]] = {}
_cache_lock = threading.Lock()
#: Worker tables of recently shown jobs, by journal path: a page load folds only new events.
_tables: dict[str, tuple[threading.Lock, WorkerTable]] = {}
_CACHED_TABLES = 16


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
    many such rows there are. The manifest is written once, when the job ends, so its failed rows
    are read in one pass and kept (by path, size and mtime) for the next pages."""
    try:
        stat = manifest.stat()
    except FileNotFoundError:
        return FailedPage([], 0, 0, available=False)
    key = (str(manifest), stat.st_size, stat.st_mtime_ns)
    with _cache_lock:
        rows = _failed_cache.get(key)
    if rows is None:
        rows = _read_failed(manifest)
        with _cache_lock:
            _failed_cache[key] = rows
            while len(_failed_cache) > _CACHED_MANIFESTS:
                _failed_cache.pop(next(iter(_failed_cache)))
    page = [dict(zip(MANIFEST_COLUMNS, row, strict=False)) for row in rows[offset : offset + limit]]
    return FailedPage(page, len(rows), min(offset, len(rows)), available=True)


def _read_failed(manifest: Path) -> list[tuple[str, ...]]:
    with manifest.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        status = header.index("status") if "status" in header else 1
        order = [header.index(c) if c in header else -1 for c in MANIFEST_COLUMNS]
        return [
            tuple(row[i] if 0 <= i < len(row) else "" for i in order)
            for row in reader
            if len(row) > status and row[status] != "succeeded"
        ]


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


def worker_slots(journal: Path) -> list[WorkerSlot]:
    """The job's worker table as of now (a copy: streams of the same job share the table)."""
    key = str(journal)
    with _cache_lock:
        entry = _tables.get(key)
        if entry is None:
            entry = _tables[key] = (threading.Lock(), WorkerTable())
            while len(_tables) > _CACHED_TABLES:
                _tables.pop(next(iter(_tables)))
    lock, table = entry
    with lock:
        try:
            shrunk = journal.stat().st_size < table.offset
        except FileNotFoundError:
            shrunk = table.offset > 0
        if shrunk:  # a job of the same name was made again: start over
            table = WorkerTable()
            with _cache_lock:
                _tables[key] = (lock, table)
        table.feed(journal)
        return copy.deepcopy(table.slots)
