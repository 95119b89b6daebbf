"""``ferry batch-deployment``: create, update, show, list and delete batch deployments.

As with ``az ml``, ``--set`` applies after the file: ``--set environment=azureml:my-env@latest``
replaces an inline environment with a reference, ``--set settings.mini_batch_size=20`` changes one
setting. Local models, code folders and environments in the file are registered first (by the SDK).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ferry.cli.batch_params import confirm_delete, no_wait_option, spec_from_view, yes_option
from ferry.cli.context import client, global_options
from ferry.cli.local_batch import run as run_local
from ferry.cli.output import emit
from ferry.cli.params import (
    build_spec,
    deployment_endpoint_option,
    deployment_file_option,
    set_option,
)
from ferry.client import BatchDeployment, MLClient

__all__ = ["batch_deployment"]

F = TypeVar("F", bound=Callable[..., Any])


@click.group("batch-deployment")
def batch_deployment() -> None:
    """Create and manage the deployments behind batch endpoints (az ml batch-deployment)."""


_set_default_option = click.option(
    "--set-default", is_flag=True, help="Make it the endpoint's default deployment."
)


def _put(
    ctx: click.Context,
    file: Path,
    name: str | None,
    endpoint_name: str | None,
    sets: tuple[str, ...],
    set_default: bool,
    *,
    must_exist: bool,
) -> None:
    spec = build_spec(BatchDeployment, file, {"name": name, "endpoint_name": endpoint_name}, sets)
    ml = client(ctx)
    if must_exist and spec.endpoint_name:
        ml.batch_deployments.get(spec.name, spec.endpoint_name)
    _save(ctx, ml, spec, set_default)


def _save(ctx: click.Context, ml: MLClient, spec: BatchDeployment, set_default: bool) -> None:
    if not spec.endpoint_name:
        raise click.UsageError("the file names no endpoint_name; pass --endpoint-name.")
    ml.batch_endpoints.get(spec.endpoint_name)  # name the missing endpoint before uploading
    emit(ctx, ml.batch_deployments.begin_create_or_update(spec, set_default=set_default).result())


@batch_deployment.command()
@click.option("-n", "--name", help="Deployment name; overrides the file's name.")
@deployment_endpoint_option(required=False)
@deployment_file_option(required=True)
@_set_default_option
@set_option
@no_wait_option
@global_options
@click.pass_context
def create(
    ctx: click.Context,
    name: str | None,
    endpoint_name: str | None,
    file: Path,
    set_default: bool,
    sets: tuple[str, ...],
    no_wait: bool,
) -> None:
    """Create (or replace) a batch deployment from a YAML file.

    \b
    Examples:
      ferry batch-deployment create --file deployment.yml --endpoint-name heart --set-default
      ferry batch-deployment create -f deployment.yml -e heart \\
          --set environment=azureml:my-env@latest settings.mini_batch_size=20
    """
    _put(ctx, file, name, endpoint_name, sets, set_default, must_exist=False)


@batch_deployment.command()
@click.option("-n", "--name", help="Deployment name (default: the file's name).")
@deployment_endpoint_option(required=False)
@deployment_file_option(required=False)
@_set_default_option
@set_option
@no_wait_option
@global_options
@click.pass_context
def update(
    ctx: click.Context,
    name: str | None,
    endpoint_name: str | None,
    file: Path | None,
    set_default: bool,
    sets: tuple[str, ...],
    no_wait: bool,
) -> None:
    """Change an existing batch deployment: from -f FILE as create does, or with --set alone.

    \b
    Examples:
      ferry batch-deployment update -f deployment.yml --endpoint-name heart
      ferry batch-deployment update -n v1 -e heart --set settings.mini_batch_size=5
    """
    if file is not None:
        _put(ctx, file, name, endpoint_name, sets, set_default, must_exist=True)
        return
    if not name or not endpoint_name:
        raise click.UsageError("pass -f FILE, or --name and --endpoint-name with --set ...")
    if not sets and not set_default:
        raise click.UsageError("nothing to update; pass --set KEY=VALUE, --set-default or -f.")
    ml = client(ctx)
    spec = spec_from_view(BatchDeployment, ml.batch_deployments.get(name, endpoint_name), sets)
    if (spec.name, spec.endpoint_name) != (name, endpoint_name):
        raise click.UsageError("--set cannot rename a deployment or move it to another endpoint.")
    _save(ctx, ml, spec, set_default)


@batch_deployment.command()
@click.option("-n", "--name", required=True, help="Deployment name.")
@deployment_endpoint_option(required=True)
@global_options
@click.pass_context
def show(ctx: click.Context, name: str, endpoint_name: str) -> None:
    """Show a batch deployment (references, settings, resources)."""
    emit(ctx, client(ctx).batch_deployments.get(name, endpoint_name))


@batch_deployment.command("list")
@deployment_endpoint_option(required=True)
@global_options
@click.pass_context
def list_(ctx: click.Context, endpoint_name: str) -> None:
    """List an endpoint's deployments."""
    emit(ctx, client(ctx).batch_deployments.list(endpoint_name))


@batch_deployment.command()
@click.option("-n", "--name", required=True, help="Deployment name.")
@deployment_endpoint_option(required=True)
@yes_option
@no_wait_option
@global_options
@click.pass_context
def delete(ctx: click.Context, name: str, endpoint_name: str, yes: bool, no_wait: bool) -> None:
    """Delete a batch deployment (its jobs and their outputs are kept)."""
    ml = client(ctx)
    ml.batch_deployments.get(name, endpoint_name)  # a missing one fails before the question
    confirm_delete(f"batch deployment {name!r} of endpoint {endpoint_name!r}", yes)
    ml.batch_deployments.begin_delete(name, endpoint_name).result()


@batch_deployment.command("list-jobs")
@click.option("-n", "--name", required=True, help="Deployment name.")
@deployment_endpoint_option(required=True)
@global_options
@click.pass_context
def list_jobs(ctx: click.Context, name: str, endpoint_name: str) -> None:
    """List the jobs that ran on one deployment, newest first."""
    ml = client(ctx)
    ml.batch_deployments.get(name, endpoint_name)  # unknown names are errors, not empty lists
    emit(ctx, ml.batch_deployments.list_jobs(endpoint_name, name))


batch_deployment.add_command(run_local)
