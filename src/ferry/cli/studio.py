"""``ferry studio``: print (and on a desktop, open) a one-time login URL for the studio."""

from __future__ import annotations

import os
import sys
import webbrowser

import click

from ferry.cli.context import client, global_options

__all__ = ["has_desktop", "show_web", "studio"]


def has_desktop() -> bool:
    """Whether a browser can open here: macOS, Windows, or a display on Linux (not over SSH)."""
    if sys.platform == "darwin" or os.name == "nt":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def show_web(url: str, what: str, *, open_browser: bool = True) -> None:
    """Print ``url`` on stderr (stdout stays the command's result) and open it on a desktop."""
    click.echo(
        f"{what} in the studio (the link signs you in once, within 10 minutes):\n  {url}",
        err=True,
    )
    if open_browser and has_desktop():
        webbrowser.open(url)


@click.command()
@click.option(
    "--page",
    default="/studio/",
    show_default=True,
    help="The studio page to open once signed in, e.g. /studio/jobs/<name>.",
)
@click.option("--no-browser", is_flag=True, help="Only print the URL, even on a desktop.")
@global_options
@click.pass_context
def studio(ctx: click.Context, page: str, no_browser: bool) -> None:
    """Print a one-time login URL for the studio (and open it on a desktop).

    The URL works once, within ten minutes, and signs that browser in (a session cookie).
    The server is started first for a local workspace, as with any command.
    """
    url = client(ctx).studio_url(page)
    click.echo(url)
    if not no_browser and has_desktop():
        webbrowser.open(url)
