"""``ferry batch-endpoint``: create, update, show, list and delete batch endpoints (as ``az ml``).

``invoke`` lives in :mod:`ferry.cli.batch_invoke`; this module adds it to the group.
"""

from __future__ import annotations

from pathlib import Path

import click

from ferry.cli.batch_invoke import invoke
from ferry.cli.batch_params import confirm_delete, no_wait_option, spec_from_view, yes_option
from ferry.cli.context import client, global_options
from ferry.cli.output import emit
from ferry.cli.params import build_spec, file_option, set_option
from ferry.client import BatchEndpoint

__all__ = ["batch_endpoint"]


@click.group("batch-endpoint")
def batch_endpoint() -> None:
    """Create, invoke and manage batch endpoints (az ml batch-endpoint)."""


batch_endpoint.add_command(invoke)


@batch_endpoint.command()
@click.option("-n", "--name", help="Endpoint name; overrides the file's name.")
@file_option
@set_option
@no_wait_option
@global_options
@click.pass_context
def create(
    ctx: click.Context, name: str | None, file: Path | None, sets: tuple[str, ...], no_wait: bool
) -> None:
    """Create (or replace) a batch endpoint.

    \b
    Example:
      ferry batch-endpoint create -f endpoint.yml --name heart-classifier-batch
    """
    spec = build_spec(BatchEndpoint, file, {"name": name}, sets)
    emit(ctx, client(ctx).batch_endpoints.begin_create_or_update(spec).result())


@batch_endpoint.command()
@click.option("-n", "--name", help="Endpoint name (default: the file's name).")
@file_option
@set_option
@no_wait_option
@global_options
@click.pass_context
def update(
    ctx: click.Context, name: str | None, file: Path | None, sets: tuple[str, ...], no_wait: bool
) -> None:
    """Change an existing batch endpoint: the file's fields, then --set on top.

    Without -f, the endpoint as it is now is the starting point.

    \b
    Example:
      ferry batch-endpoint update --name my-endpoint --set defaults.deployment_name=v2
    """
    if file is None and not name:
        raise click.UsageError("pass --name (and --set ...) or -f FILE.")
    if file is None and not sets:
        raise click.UsageError(
            "nothing to update; pass --set defaults.deployment_name=<deployment> or -f FILE."
        )
    ml = client(ctx)
    if file is not None:
        spec = build_spec(BatchEndpoint, file, {"name": name}, sets)
        ml.batch_endpoints.get(spec.name)  # update changes an endpoint; it never creates one
    else:
        assert name is not None
        spec = spec_from_view(BatchEndpoint, ml.batch_endpoints.get(name), sets)
        if spec.name != name:
            raise click.UsageError("--set name=... cannot rename an endpoint; create a new one.")
    emit(ctx, ml.batch_endpoints.begin_create_or_update(spec).result())


@batch_endpoint.command()
@click.option("-n", "--name", required=True, help="Endpoint name.")
@global_options
@click.pass_context
def show(ctx: click.Context, name: str) -> None:
    """Show a batch endpoint (its default deployment is defaults.deployment_name)."""
    emit(ctx, client(ctx).batch_endpoints.get(name))


@batch_endpoint.command("list")
@global_options
@click.pass_context
def list_(ctx: click.Context) -> None:
    """List the batch endpoints."""
    emit(ctx, client(ctx).batch_endpoints.list())


@batch_endpoint.command()
@click.option("-n", "--name", required=True, help="Endpoint name.")
@yes_option
@no_wait_option
@global_options
@click.pass_context
def delete(ctx: click.Context, name: str, yes: bool, no_wait: bool) -> None:
    """Delete a batch endpoint and its deployments (jobs and their outputs are kept)."""
    ml = client(ctx)
    ml.batch_endpoints.get(name)  # a missing endpoint fails before the question is asked
    confirm_delete(f"batch endpoint {name!r} and all its deployments", yes)
    ml.batch_endpoints.begin_delete(name).result()


@batch_endpoint.command("list-jobs")
@click.option("-n", "--name", required=True, help="Endpoint name.")
@global_options
@click.pass_context
def list_jobs(ctx: click.Context, name: str) -> None:
    """List the jobs started on a batch endpoint, newest first."""
    ml = client(ctx)
    ml.batch_endpoints.get(name)  # an unknown endpoint is an error, not an empty list
    emit(ctx, ml.batch_endpoints.list_jobs(name))
