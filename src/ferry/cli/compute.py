"""``ferry compute``: the targets jobs and deployments run on (this machine, or a Ray cluster)."""

from __future__ import annotations

from pathlib import Path

import click

from ferry.cli.context import client, global_options
from ferry.cli.output import emit
from ferry.cli.params import build_spec, file_option, set_option, tags_option
from ferry.client import Compute

__all__ = ["compute"]


@click.group()
def compute() -> None:
    """Register and inspect compute targets (az ml compute)."""


@compute.command()
@click.option("-n", "--name", help="Compute name (letters, digits, '-').")
@click.option(
    "-t",
    "--type",
    "type_",
    type=click.Choice(["local", "ray", "amlcompute"], case_sensitive=False),
    help="Default: local. amlcompute (Azure's cluster) runs on this machine, as local.",
)
@click.option("--address", help="ray: cluster address (ray://host:10001 or auto).")
@click.option("--min-instances", type=click.IntRange(min=0), help="Fewest worker instances kept.")
@click.option("--max-instances", type=click.IntRange(min=1), help="Most worker instances used.")
@click.option("--size", help="Azure VM size (STANDARD_DS3_v2); recorded, not used locally.")
@click.option(
    "--idle-time-before-scale-down",
    type=click.IntRange(min=0),
    help="Azure's idle seconds before scale-down; recorded.",
)
@click.option("--tier", help="Azure's dedicated | low_priority; recorded.")
@click.option("-d", "--description", help="Free-text description.")
@tags_option
@file_option
@set_option
@global_options
@click.pass_context
def create(
    ctx: click.Context,
    name: str | None,
    type_: str | None,
    address: str | None,
    min_instances: int | None,
    max_instances: int | None,
    size: str | None,
    idle_time_before_scale_down: int | None,
    tier: str | None,
    description: str | None,
    tags: tuple[tuple[str, str], ...],
    file: Path | None,
    sets: tuple[str, ...],
) -> None:
    """Register or replace a compute target.

    \b
    Examples:
      ferry compute create --name cpu --type local --max-instances 4
      ferry compute create --name cluster --type ray --address ray://head:10001
      ferry compute create -n batch-cluster --type amlcompute --min-instances 0 --max-instances 5
    """
    fields = {
        "name": name,
        "type": type_,
        "address": address,
        "min_instances": min_instances,
        "max_instances": max_instances,
        "size": size,
        "idle_time_before_scale_down": idle_time_before_scale_down,
        "tier": tier,
        "description": description,
        "tags": dict(tags),
    }
    spec = build_spec(Compute, file, fields, sets)
    emit(ctx, client(ctx).compute.create_or_update(spec))


@compute.command()
@click.option("-n", "--name", required=True, help="Compute name.")
@global_options
@click.pass_context
def show(ctx: click.Context, name: str) -> None:
    """Show one compute target."""
    emit(ctx, client(ctx).compute.get(name))


@compute.command("list")
@global_options
@click.pass_context
def list_(ctx: click.Context) -> None:
    """List the compute targets."""
    emit(ctx, list(client(ctx).compute.list()))


@compute.command()
@click.option("-n", "--name", required=True, help="Compute name.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@global_options
@click.pass_context
def delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete a compute target's registration."""
    if not yes:
        click.confirm(f"Delete compute {name!r}?", abort=True, err=True)
    client(ctx).compute.delete(name)
