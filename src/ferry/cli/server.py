"""``ferry server``: start, stop and inspect the local workspace's server process.

These act on the local workspace folder (``--workspace``) through
:mod:`ferry.local_workspace.launcher`; a remote server named by ``FERRY_SERVER_URL`` is
managed where it runs.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TextIO

import click

from ferry.cli.context import global_options, settings
from ferry.cli.output import emit
from ferry.client import MLClient
from ferry.errors import FerryError, NotFoundError, ServerError
from ferry.local_workspace.launcher import server_status, start_background, stop_server
from ferry.local_workspace.layout import WorkspaceLayout

__all__ = ["server"]


@click.group()
def server() -> None:
    """Run the workspace's server in the background (commands auto-start it too)."""


@server.command()
@click.option("--host", help="Address to bind (default: 127.0.0.1, or $FERRY_HOST).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port to bind; 0 picks a free one.")
@click.option(
    "--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for it."
)
@global_options
@click.pass_context
def start(ctx: click.Context, host: str | None, port: int | None, timeout: float) -> None:
    """Start the server in the background and print its info (pid, url).

    If one already runs for the workspace, its info is printed and nothing is started. A
    one-time login URL for the studio goes to stderr (`ferry studio` prints a new one).
    """
    base = settings(ctx)
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    chosen = base.model_copy(update=overrides)
    info = start_background(chosen, timeout=timeout)
    # As Jupyter does: a one-time studio login URL, on stderr (stdout stays the server's info).
    try:
        with MLClient(settings=chosen, autostart=False) as ml:
            login = ml.studio_url()
    except FerryError as exc:  # a server from an older Ferry has no studio: start still worked
        click.echo(f"no studio login URL ({exc.message})", err=True)
    else:
        click.echo(f"Studio (the link signs you in once, within 10 minutes):\n  {login}", err=True)
    emit(ctx, info)


@server.command()
@global_options
@click.pass_context
def stop(ctx: click.Context) -> None:
    """Stop the workspace's server (SIGTERM, then SIGKILL after 15 s)."""
    current = settings(ctx)
    stopped = stop_server(current)
    if stopped is None:
        # Stopping what is not running is not a failure: scripts call stop unconditionally.
        click.echo(f"no server running for workspace {current.resolved_workspace}", err=True)
        return
    emit(ctx, stopped)


@server.command()
@global_options
@click.pass_context
def status(ctx: click.Context) -> None:
    """Print the running server's info, or exit 1 when none runs."""
    current = settings(ctx)
    info = server_status(current)
    if info is None:
        raise ServerError(
            f"no server running for workspace {current.resolved_workspace}; "
            "start it with `ferry server start`.",
        )
    emit(ctx, info)


@server.command()
@click.option("--follow", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.option(
    "-n",
    "--lines",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="How many of the last lines to print.",
)
@global_options
@click.pass_context
def logs(ctx: click.Context, follow: bool, lines: int) -> None:
    """Print the server's log file (the last --lines lines)."""
    log_file = WorkspaceLayout(settings(ctx).resolved_workspace).log_file
    if not log_file.is_file():
        raise NotFoundError(
            f"no server log at {log_file} yet; start the server with `ferry server start`.",
            details={"path": str(log_file)},
        )
    with log_file.open("r", encoding="utf-8", errors="replace") as handle:
        # Reading through to the end (deque keeps the tail) also positions --follow there.
        for line in deque(handle, maxlen=lines):
            click.echo(line, nl=False)
        if follow:
            _follow(handle)


def _follow(handle: TextIO) -> None:
    try:
        while True:
            line = handle.readline()
            if line:
                click.echo(line, nl=False)
            else:
                time.sleep(0.25)
    except KeyboardInterrupt:
        return
