"""``ferry secret``: workspace secrets. Values go in; only names and times ever come out."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ferry.cli.context import client, global_options
from ferry.cli.output import emit
from ferry.errors import InvalidInputError, NotFoundError

__all__ = ["secret"]


@click.group()
def secret() -> None:
    """Store secrets encrypted in the workspace (deployments read them by name)."""


def _public(view: Any) -> dict[str, Any]:
    # The server never returns values; dropping the key anyway keeps a future field from leaking.
    data = dict(view) if isinstance(view, dict) else {"name": str(view)}
    data.pop("value", None)
    return data


def _read_value(value: str | None, from_file: Path | None) -> str:
    if (value is None) == (from_file is None):
        raise click.UsageError(
            "pass exactly one of --value or --from-file (--value - reads stdin)."
        )
    if from_file is not None:
        try:
            return from_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFoundError(
                f"secret file {str(from_file)!r} does not exist; check --from-file.",
                details={"field": "--from-file", "path": str(from_file)},
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(
                f"cannot read secret file {str(from_file)!r} ({exc}); it must be UTF-8 text.",
                details={"field": "--from-file", "path": str(from_file)},
            ) from exc
    assert value is not None
    if value == "-":
        # `echo s3cret | ferry secret set k --value -`: drop echo's newline, keep the rest.
        return sys.stdin.read().removesuffix("\n")
    return value


@secret.command("set")
@click.argument("name")
@click.option("--value", help="The value; '-' reads it from stdin (keeps it out of history).")
@click.option(
    "--from-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the value from a file.",
)
@global_options
@click.pass_context
def set_(ctx: click.Context, name: str, value: str | None, from_file: Path | None) -> None:
    """Create or replace secret NAME. The value is encrypted and never shown again.

    \b
    Examples:
      ferry secret set db-password --from-file ./password.txt
      printf %s "$TOKEN" | ferry secret set api-token --value -
    """
    emit(ctx, _public(client(ctx).secrets.set(name, _read_value(value, from_file))))


@secret.command("list")
@global_options
@click.pass_context
def list_(ctx: click.Context) -> None:
    """List secret names (never values)."""
    emit(ctx, [_public(item) for item in client(ctx).secrets.list()])


@secret.command()
@click.argument("name")
@global_options
@click.pass_context
def delete(ctx: click.Context, name: str) -> None:
    """Delete secret NAME."""
    client(ctx).secrets.delete(name)
