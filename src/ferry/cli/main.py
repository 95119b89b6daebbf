"""The ``ferry`` command: the root group, its groups, and how errors become exit codes.

Exit codes follow ``az``: 0 success; 1 a user error (any :class:`~ferry.errors.FerryError`),
reported as one ``ERROR: <message>`` line on stderr (``--debug`` adds the traceback); 2 a usage
error (unknown option, missing required option, bad choice), reported by click.
"""

from __future__ import annotations

import traceback
from typing import Any, NoReturn

import click

from ferry.cli.asset_kinds import code, data, environment, model
from ferry.cli.batch_deployment import batch_deployment
from ferry.cli.batch_endpoint import batch_endpoint
from ferry.cli.compute import compute
from ferry.cli.context import global_options, state
from ferry.cli.datastore import datastore
from ferry.cli.job import job
from ferry.cli.online_deployment import online_deployment
from ferry.cli.online_endpoint import online_endpoint
from ferry.cli.params import expand_multi_value
from ferry.cli.prefixes import expand_command_args, expand_group_options
from ferry.cli.secret import secret
from ferry.cli.server import server
from ferry.cli.studio import studio
from ferry.errors import FerryError

__all__ = ["cli", "main"]


class FerryGroup(click.Group):
    """The root group: accepts az's multi-value flags and long-option prefixes (``--endpoint``
    for ``--endpoint-name``, as argparse in ``az``), and turns errors into exit codes."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, expand_group_options(ctx, self, expand_multi_value(args)))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None:
            rest = expand_command_args(ctx, command, rest)
        return name, command, rest

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (
            click.exceptions.ClickException,
            click.exceptions.Exit,
            click.exceptions.Abort,
            BrokenPipeError,  # `ferry model list | head`: click exits quietly on EPIPE
        ):
            raise
        except FerryError as exc:
            _fail(ctx, exc.message)
        except Exception as exc:
            # A bug, not a user error: still one line, with the way to see more.
            _fail(ctx, f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for details)")


def _fail(ctx: click.Context, message: str) -> NoReturn:
    if state(ctx).debug:
        click.echo(traceback.format_exc().rstrip(), err=True)
    click.echo(f"ERROR: {message}", err=True)
    ctx.exit(1)


@click.group(cls=FerryGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ferry", prog_name="ferry")
@global_options
def cli() -> None:
    """Ferry: self-hosted model deployment that speaks Azure ML (`az ml` verbs and YAML).

    Global options (--workspace, --query, -o/--output, --debug) work before the group and on
    every command. FERRY_SERVER_URL and FERRY_TOKEN select a remote server; otherwise the
    workspace's local server is started on first use.
    """


for _group in (
    model,
    data,
    environment,
    code,
    online_endpoint,
    online_deployment,
    batch_endpoint,
    batch_deployment,
    job,
    datastore,
    compute,
    secret,
    server,
    studio,
):
    cli.add_command(_group)


def main() -> None:
    """Console-script entry point (``ferry``)."""
    cli(prog_name="ferry")


if __name__ == "__main__":
    main()
