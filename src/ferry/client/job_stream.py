"""Follow a batch job until it ends: its progress and its scripts' log lines, as they come.

``ml_client.jobs.stream(name)`` (a notebook) and ``ferry job stream`` (a terminal) share this
loop; they differ only in the :class:`Display` that shows what it finds. :class:`PlainDisplay`
prints lines, which is what a notebook cell or a CI log shows.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ferry.client.log_tail import LogTail
from ferry.errors import FerryError
from ferry.specs.states import JobState

if TYPE_CHECKING:
    from ferry.client.batch import JobOperations
    from ferry.client.batch_entities import BatchJob

__all__ = ["POLL_SECONDS", "Display", "PlainDisplay", "describe", "follow_job", "result_files"]

POLL_SECONDS = 0.5


class Display(Protocol):
    """Where progress and log lines go."""

    def __enter__(self) -> Display: ...
    def __exit__(self, *exc: object) -> None: ...
    def log(self, line: str) -> None: ...
    def update(self, job: BatchJob) -> None: ...


def _eta(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "unknown"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def describe(progress: dict[str, Any]) -> str:
    """``12/20 items (1 failed), mini-batches 4/7 (0 failed), 5.2 items/s, ETA 2s``."""
    p = progress
    done = int(p.get("items_succeeded", 0)) + int(p.get("items_failed", 0))
    text = (
        f"{done}/{p.get('items_total', '?')} items ({p.get('items_failed', 0)} failed), "
        f"mini-batches {p.get('mini_batches_done', 0)}/{p.get('mini_batches_total', '?')} "
        f"({p.get('mini_batches_failed', 0)} failed), "
        f"{float(p.get('items_per_second') or 0):.1f} items/s, ETA {_eta(p.get('eta_seconds'))}"
    )
    # "2 workers in init() for 40 s": why nothing moves yet.
    return f"{text}; {p['activity']}" if p.get("activity") else text


def _print(line: str) -> None:
    print(line, file=sys.stdout, flush=True)


class PlainDisplay:
    """A progress line whenever the counts or the state change; log lines as they come."""

    def __init__(self, write: Callable[[str], None] = _print) -> None:
        self._write = write
        self._last: tuple[Any, ...] | None = None

    def __enter__(self) -> PlainDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def log(self, line: str) -> None:
        self._write(line)

    def update(self, job: BatchJob) -> None:
        progress = job.progress or {}
        # The rate and ETA drift on every poll; only a change in the counts is news.
        key = (
            job.status,
            *(progress.get(k) for k in ("items_total", "items_succeeded", "items_failed")),
            *(progress.get(k) for k in ("mini_batches_done", "mini_batches_failed")),
            # A line every 10 s while workers wait in init(), not one per poll.
            progress.get("workers_in_init"),
            int(progress.get("init_seconds") or 0) // 10,
        )
        if key != self._last:
            self._last = key
            text = f"{job.status}: {describe(progress)}" if progress else job.status
            self._write(f"[progress] {text}")


def follow_job(jobs: JobOperations, name: str, display: Display) -> BatchJob:
    """Show ``name``'s progress, warnings and log lines until it ends; return the final job."""
    tail = LogTail(jobs, name)
    warned: set[str] = set()
    with display:
        while True:
            job = jobs.get(name)  # before the logs: once it is finished, they are complete
            for line in tail.poll():
                display.log(line)
            for warning in (job.progress or {}).get("warnings") or ():
                if warning not in warned:  # e.g. two mini-batches wrote the same output file
                    warned.add(warning)
                    display.log(f"[warning] {warning}")
            display.update(job)
            if job.finished:
                break
            time.sleep(POLL_SECONDS)
        for line in tail.flush():
            display.log(line)
    return job


def result_files(jobs: JobOperations, job: BatchJob) -> list[tuple[str, str]]:
    """(path, text) of ``logs/job_result.txt``, and ``logs/job_error.txt`` unless it completed.

    A job canceled while queued, or one that failed before it ran, has neither.
    """
    paths = ["logs/job_result.txt"]
    if job.status != JobState.COMPLETED:
        paths.append("logs/job_error.txt")
    found: list[tuple[str, str]] = []
    for path in paths:
        try:
            found.append((path, jobs.read_file(job.name, path).decode("utf-8", errors="replace")))
        except FerryError:
            continue
    return found
