"""``ferry datastore``: where artifact bytes live (local folder, S3, Azure Blob)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ferry.cli.context import client, global_options
from ferry.cli.output import emit
from ferry.cli.params import build_spec, file_option, local_path, set_option, tags_option
from ferry.client import Datastore
from ferry.specs.loader import read_yaml

__all__ = ["datastore"]


@click.group()
def datastore() -> None:
    """Register and inspect datastores (az ml datastore).

    Credential values given here are stored encrypted on the server and never shown again;
    listings show only their names.
    """


@datastore.command()
@click.option("-n", "--name", help="Datastore name (letters, digits, '_').")
@click.option(
    "-t", "--type", "type_", type=click.Choice(["local", "s3", "azure_blob"]), help="Store type."
)
@click.option("-d", "--description", help="Free-text description.")
@click.option("--root", help="local: the folder that holds the bytes.")
@click.option("--bucket", help="s3: bucket name.")
@click.option("--endpoint-url", help="s3: endpoint of an S3-compatible store (MinIO, ...).")
@click.option("--region", help="s3: region name.")
@click.option("--account-name", help="azure_blob: storage account.")
@click.option("--container-name", help="azure_blob: blob container.")
@click.option("--endpoint", help="azure_blob: endpoint suffix (core.windows.net).")
@click.option("--protocol", type=click.Choice(["https", "http"]), help="azure_blob: protocol.")
@click.option("--prefix", help="Path prefix inside the bucket or container.")
@click.option(
    "--connection-string",
    help="azure_blob: connection string (stored encrypted; prefer -f to keep it out of "
    "shell history).",
)
@tags_option
@file_option
@set_option
@global_options
@click.pass_context
def create(
    ctx: click.Context,
    /,
    name: str | None,
    type_: str | None,
    description: str | None,
    root: str | None,
    connection_string: str | None,
    tags: tuple[tuple[str, str], ...],
    file: Path | None,
    sets: tuple[str, ...],
    **fields: Any,
) -> None:
    """Register or replace a datastore.

    \b
    Examples:
      ferry datastore create -f datastore.yml
      ferry datastore create --name lake --type s3 --bucket data --set credentials.access_key_id=...
      ferry datastore create --name disk --type local --root /mnt/data
    """
    if file is not None and root is None:
        root = _root_from_file(file)
    fields.update(
        {
            "name": name,
            "type": type_,
            "description": description,
            "tags": dict(tags),
            "root": local_path(root),
            "credentials.connection_string": connection_string,
        }
    )
    spec = build_spec(Datastore, file, fields, sets)
    emit(ctx, client(ctx).datastores.create_or_update(spec))


def _root_from_file(file: Path) -> str | None:
    # A relative local root in a YAML file means relative to that file, like every other path.
    root = read_yaml(file).get("root")
    if isinstance(root, str) and root and not Path(root).expanduser().is_absolute():
        return str((file.resolve().parent / root).resolve())
    return None


@datastore.command()
@click.option("-n", "--name", required=True, help="Datastore name.")
@global_options
@click.pass_context
def show(ctx: click.Context, name: str) -> None:
    """Show one datastore (credential names only)."""
    emit(ctx, client(ctx).datastores.get(name))


@datastore.command("list")
@global_options
@click.pass_context
def list_(ctx: click.Context) -> None:
    """List the datastores, including the default workspaceblobstore."""
    emit(ctx, list(client(ctx).datastores.list()))


@datastore.command()
@click.option("-n", "--name", required=True, help="Datastore name.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@global_options
@click.pass_context
def delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete a datastore's registration (the bytes it points at are left alone)."""
    if not yes:
        click.confirm(f"Delete datastore {name!r}?", abort=True, err=True)
    client(ctx).datastores.delete(name)
