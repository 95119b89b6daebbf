"""``ferry environment build``: build an environment's virtualenv now (a Ferry addition).

Jobs and deployments build their environment on first use; building ahead moves that wait (and
any dependency error) to a moment of the user's choosing. Builds are cached by content hash, so a
second build of the same environment is ``reused``.
"""

from __future__ import annotations

import sys

import click

from ferry.cli.context import client, global_options
from ferry.cli.output import emit
from ferry.specs.refs import LATEST

__all__ = ["build", "parse_reference"]


def parse_reference(text: str) -> tuple[str, str | None]:
    """``NAME@VER``, ``NAME:VER``, ``azureml:NAME:VER``, ``NAME@latest`` or ``NAME`` as
    (name, version); ``None`` means the latest version."""
    body = text.strip().removeprefix("azureml:")
    if "@" in body:
        name, _, version = body.partition("@")
    else:
        name, _, version = body.rpartition(":") if ":" in body else (body, "", "")
    if not name or body.startswith("//"):
        raise click.BadParameter(
            f"{text!r} is not an environment reference; write NAME@VERSION, NAME:VERSION, "
            "azureml:NAME:VERSION or NAME@latest.",
            param_hint="REFERENCE",
        )
    return name, None if version in ("", LATEST) else version


@click.command()
@click.argument("reference", required=False)
@click.option("-n", "--name", help="Environment name (instead of REFERENCE).")
@click.option("-v", "--version", help="Version with --name; default: the latest.")
@global_options
@click.pass_context
def build(ctx: click.Context, reference: str | None, name: str | None, version: str | None) -> None:
    """Build (or reuse) the virtualenv of an environment version and print the facts.

    REFERENCE is NAME@VERSION, NAME:VERSION, azureml:NAME:VERSION, NAME@latest or NAME.
    The result names the cache hash, the Python interpreter, whether a cached build was reused,
    notices (what Ferry did differently from Azure), changes made to the requirements, and the
    build log.

    \b
    Examples:
      ferry environment build my-env@3
      ferry environment build azureml:my-env:3 --query python -o tsv
    """
    if reference and name:
        raise click.UsageError("pass REFERENCE or --name, not both.")
    if reference:
        if version:
            raise click.UsageError("--version goes with --name; REFERENCE carries its version.")
        name, version = parse_reference(reference)
    if not name:
        raise click.UsageError("name the environment: ferry environment build NAME@VERSION.")
    if sys.stderr.isatty():
        shown = f"{name}:{version}" if version else f"{name}@latest"
        click.echo(f"Building environment {shown} (a first build can take minutes)...", err=True)
    emit(ctx, client(ctx).build_environment(name, version))
