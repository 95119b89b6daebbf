"""``ferry job stream``: live progress and logs of a batch job until it ends.

On a terminal the progress is a Rich bar (items done and failed, mini-batches, items/s, ETA)
redrawn about twice a second, with the log lines scrolling above it. Elsewhere (a pipe, a CI
log) it is a plain line printed whenever the counts change. Either way the job's logs are
followed (:mod:`ferry.cli.log_tail`), and at the end ``logs/job_result.txt`` is printed, plus
``logs/job_error.txt`` when the job did not complete.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn
from rich.text import Text

from ferry.cli.log_tail import LogTail
from ferry.client import BatchJob, MLClient
from ferry.errors import FerryError

__all__ = ["POLL_SECONDS", "describe", "stream_job"]

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


class PlainDisplay:
    """A progress line whenever the counts or the state change; log lines as they come."""

    def __init__(self) -> None:
        self._last: tuple[Any, ...] | None = None

    def __enter__(self) -> PlainDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def log(self, line: str) -> None:
        click.echo(line)

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
            click.echo(f"[progress] {text}")


class RichDisplay:
    """A Rich progress bar at the bottom of the terminal, log lines printed above it."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description:<10}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[details]}"),
            console=console,
            refresh_per_second=2,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> RichDisplay:
        self._progress.start()
        self._task = self._progress.add_task("Queued", total=None, details="")
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def log(self, line: str) -> None:
        self._progress.console.print(Text(line), soft_wrap=True, highlight=False)

    def update(self, job: BatchJob) -> None:
        assert self._task is not None
        p = job.progress or {}
        total = p.get("items_total")
        done = int(p.get("items_succeeded", 0)) + int(p.get("items_failed", 0))
        self._progress.update(
            self._task,
            description=job.status,
            total=total if isinstance(total, int) and total > 0 else None,
            completed=done,
            details=describe(p) if p else "",
        )


def make_display() -> Display:
    """A Rich bar on an interactive terminal, plain lines anywhere else."""
    console = Console()
    if console.is_terminal and not console.is_dumb_terminal:
        return RichDisplay(console)
    return PlainDisplay()


def stream_job(ml: MLClient, name: str, display: Display) -> BatchJob:
    """Show ``name``'s progress and logs until it ends, then its result; return the final job."""
    tail = LogTail(ml.jobs, name)
    warned: set[str] = set()
    with display:
        while True:
            job = ml.jobs.get(name)  # before the logs: once it is finished, they are complete
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
    _print_file(ml, name, "logs/job_result.txt")
    if job.status != "Completed":
        _print_file(ml, name, "logs/job_error.txt")
    return job


def _print_file(ml: MLClient, name: str, path: str) -> None:
    try:
        text = ml.jobs.read_file(name, path).decode("utf-8", errors="replace")
    except FerryError:
        return  # a job canceled while queued, or one that failed before it ran, has none
    click.echo(f"\n===== {path} =====")
    click.echo(text.rstrip("\n"))
