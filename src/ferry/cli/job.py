"""``ferry job``: show, list, stream, cancel, resume and download batch jobs (as ``az ml job``)."""

from __future__ import annotations

import itertools
from pathlib import Path
from urllib.parse import quote

import click

from ferry.cli.context import client, global_options
from ferry.cli.job_stream import make_display, stream_job
from ferry.cli.output import emit
from ferry.cli.studio import show_web
from ferry.errors import FerryError, InvalidInputError
from ferry.specs.states import JobState

__all__ = ["job"]

_OUTPUT = "score"  # a batch job's one named output, as in Azure


@click.group()
def job() -> None:
    """Follow and manage batch jobs (az ml job)."""


def _name_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option("-n", "--name", required=True, help="Job name.")(func)


@job.command()
@_name_option
@click.option(
    "--web",
    is_flag=True,
    help="Also print (and on a desktop, open) the job's studio page, as a one-time login URL.",
)
@global_options
@click.pass_context
def show(ctx: click.Context, name: str, web: bool) -> None:
    """Show a job: status, error, live progress counts and output URI."""
    ml = client(ctx)
    found = ml.jobs.get(name)
    if web:
        # As az opens the studio page; on stderr, so that stdout stays the job for --query.
        show_web(ml.studio_url(f"/studio/jobs/{quote(name, safe='')}"), f"job {name}")
    emit(ctx, found)


@job.command("list")
@click.option("-e", "--endpoint-name", help="Only the jobs of this batch endpoint.")
@click.option("-d", "--deployment-name", help="Only the jobs of this deployment.")
@click.option(
    "-p",
    "--parent-job-name",
    help="Only the child jobs of this job. A Ferry batch job is its own one step, so this lists "
    "that job.",
)
@click.option("-r", "--max-results", type=click.IntRange(min=1), help="List at most this many.")
@global_options
@click.pass_context
def list_(
    ctx: click.Context,
    endpoint_name: str | None,
    deployment_name: str | None,
    parent_job_name: str | None,
    max_results: int | None,
) -> None:
    """List jobs, newest first."""
    ml = client(ctx)
    if parent_job_name:
        ml.jobs.get(parent_job_name)  # an unknown parent is an error, not an empty list
    if endpoint_name:
        ml.batch_endpoints.get(endpoint_name)  # an unknown endpoint is an error, not []
        jobs = ml.batch_endpoints.list_jobs(endpoint_name)
        jobs = [j for j in jobs if parent_job_name in (None, j.name)]
    else:
        jobs = ml.jobs.list(parent_job_name=parent_job_name)
    if deployment_name:
        jobs = [j for j in jobs if j.deployment_name == deployment_name]
    emit(ctx, list(itertools.islice(jobs, max_results)))


@job.command()
@_name_option
@global_options
@click.pass_context
def cancel(ctx: click.Context, name: str) -> None:
    """Cancel a queued or running job (a finished one is left as it is)."""
    emit(ctx, client(ctx).jobs.begin_cancel(name))


@job.command()
@_name_option
@global_options
@click.pass_context
def resume(ctx: click.Context, name: str) -> None:
    """Rerun only the mini-batches of a finished job that failed; successes are kept.

    A Ferry addition: fix the data or the script's environment, then resume instead of
    scoring everything again. Follow it with `ferry job stream --name NAME`.
    """
    emit(ctx, client(ctx).jobs.resume(name))


@job.command()
@_name_option
@click.option("--output-name", default=_OUTPUT, show_default=True, help="Named output ('score').")
@click.option("-p", "--download-path", default=".", show_default=True, help="Destination folder.")
@click.option("--all", "all_", is_flag=True, help="Also download the logs (into logs/).")
@global_options
@click.pass_context
def download(
    ctx: click.Context, name: str, output_name: str, download_path: str, all_: bool
) -> None:
    """Download a job's outputs into DOWNLOAD_PATH/named-outputs/score/ (and logs/ with --all).

    \b
    Example:
      ferry job download --name J --download-path out --all
      # out/named-outputs/score/predictions.csv, out/logs/job_result.txt, ...
    """
    if output_name != _OUTPUT:
        raise InvalidInputError(
            f"a batch job has one output, {_OUTPUT!r}, not {output_name!r}; "
            f"pass --output-name {_OUTPUT} or leave it out.",
            details={"field": "output_name"},
        )
    ml = client(ctx)
    ml.jobs.get(name)  # name a missing job before creating any folder
    outputs = ml.jobs.download(name, download_path=download_path, all=all_)
    result = {"name": name, "download_path": str(Path(download_path).resolve())}
    if outputs.is_dir():  # a job that failed while preparing has logs only
        result["outputs"] = str(outputs.resolve())
    if all_:
        result["logs"] = str((Path(download_path) / "logs").resolve())
    emit(ctx, result)


@job.command()
@_name_option
@global_options
@click.pass_context
def stream(ctx: click.Context, name: str) -> None:
    """Follow a job until it ends: progress, the scripts' logs, then the result.

    Exits 0 when the job completed, 1 when it failed or was canceled, so a script can stop on a
    failed job. Ctrl+C stops following; the job keeps running.
    """
    ml = client(ctx)
    try:
        final = stream_job(ml, name, make_display())
    except KeyboardInterrupt:
        click.echo(
            f"\nStopped following job {name!r}; it keeps running "
            f"(`ferry job cancel --name {name}` stops it).",
            err=True,
        )
        ctx.exit(130)
    if final.status != JobState.COMPLETED:
        reason = f": {final.error}" if final.error else ""
        hints = [f"`ferry job download --name {name} --all` fetches every log"]
        if (final.progress or {}).get("mini_batches_total"):  # it got as far as running
            hints.append(
                f"`ferry job resume --name {name}` reruns the mini-batches that did not succeed"
            )
        raise FerryError(f"job {name!r} {final.status.lower()}{reason} ({'; '.join(hints)})")
