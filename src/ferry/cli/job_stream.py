"""``ferry job stream``: live progress and logs of a batch job until it ends.

On a terminal the progress is a Rich bar (items done and failed, mini-batches, items/s, ETA)
redrawn about twice a second, with the log lines scrolling above it. Elsewhere (a pipe, a CI
log) it is a plain line printed whenever the counts change. Either way the job's logs are
followed (:mod:`ferry.client.job_stream`, which the SDK's ``jobs.stream`` uses too), and at the
end ``logs/job_result.txt`` is printed, plus ``logs/job_error.txt`` when the job did not complete.
"""

from __future__ import annotations

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn
from rich.text import Text

from ferry.client import BatchJob, MLClient
from ferry.client.job_stream import Display, PlainDisplay, describe, follow_job, result_files
from ferry.specs.states import JobState

__all__ = ["make_display", "stream_job"]


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
        self._task = self._progress.add_task(JobState.QUEUED.value, total=None, details="")
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
    return PlainDisplay(click.echo)


def stream_job(ml: MLClient, name: str, display: Display) -> BatchJob:
    """Show ``name``'s progress and logs until it ends, then its result; return the final job."""
    job = follow_job(ml.jobs, name, display)
    for path, text in result_files(ml.jobs, job):
        click.echo(f"\n===== {path} =====")
        click.echo(text.rstrip("\n"))
    return job
