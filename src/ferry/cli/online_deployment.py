"""``ferry online-deployment``: create, update, show, list and delete online deployments, and read
their logs (as ``az ml online-deployment``).

``create`` and ``update`` wait until every replica's ``init()`` has finished, as ``az`` does;
a failed ``init()`` exits 1 with its traceback. Local models, code folders and environments in
the file are registered first (by the SDK). ``environment: ferry:server-python`` runs the
replicas in the server's own interpreter (for development: no environment to build).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ferry.cli.batch_params import confirm_delete, spec_from_view, yes_option
from ferry.cli.context import client, global_options
from ferry.cli.local_online import serve
from ferry.cli.online_params import wait_for_deployment
from ferry.cli.output import emit, to_data
from ferry.cli.params import (
    build_spec,
    deployment_endpoint_option,
    deployment_file_option,
    set_option,
)
from ferry.client import MLClient
from ferry.specs.online import OnlineDeploymentSpec

__all__ = ["online_deployment"]

F = TypeVar("F", bound=Callable[..., Any])

_CONTAINERS = {"inference-server": "InferenceServer", "storage-initializer": "StorageInitializer"}


@click.group("online-deployment")
def online_deployment() -> None:
    """Create and manage the deployments behind online endpoints (az ml online-deployment)."""


def _put_options(func: F) -> F:
    for option in reversed(
        (
            click.option(
                "--all-traffic",
                is_flag=True,
                help="Send all of the endpoint's live traffic to it once it is ready.",
            ),
            set_option,
            click.option(
                "--no-wait",
                is_flag=True,
                help="Return once the change is accepted, without waiting for the replicas.",
            ),
            click.option(
                "--skip-script-validation",
                is_flag=True,
                hidden=True,  # az's flag; Ferry checks the script exists either way
            ),
        )
    ):
        func = option(func)
    return func


def _save(
    ctx: click.Context, ml: MLClient, spec: OnlineDeploymentSpec, all_traffic: bool, wait: bool
) -> None:
    endpoint = spec.endpoint_name
    if not endpoint:
        raise click.UsageError("the file names no endpoint_name; pass --endpoint-name.")
    ml.online_endpoints.get(endpoint)  # name the missing endpoint before uploading
    poller = ml.online_deployments.begin_create_or_update(spec, all_traffic=all_traffic)
    if not wait:
        emit(ctx, ml.online_deployments.get(spec.name, endpoint))
        return
    deployment = wait_for_deployment(ml, poller, spec.name, endpoint)
    if all_traffic and deployment.error:
        # Ready, but the split could not move (e.g. another deployment mirrors traffic).
        click.echo(f"WARNING: {deployment.error}", err=True)
    emit(ctx, deployment)


@online_deployment.command()
@click.option("-n", "--name", help="Deployment name; overrides the file's name.")
@deployment_endpoint_option(required=False)
@deployment_file_option(required=True)
@_put_options
@global_options
@click.pass_context
def create(
    ctx: click.Context,
    name: str | None,
    endpoint_name: str | None,
    file: Path,
    all_traffic: bool,
    sets: tuple[str, ...],
    no_wait: bool,
    skip_script_validation: bool,
) -> None:
    """Create (or replace) an online deployment from a YAML file and wait until it is ready.

    \b
    Examples:
      ferry online-deployment create -f blue-deployment.yml --all-traffic
      ferry online-deployment create -f deployment.yml -e my-endpoint --name green \\
          --set instance_count=2 environment=ferry:server-python
    """
    fields = {"name": name, "endpoint_name": endpoint_name}
    spec = build_spec(OnlineDeploymentSpec, file, fields, sets)
    _save(ctx, client(ctx), spec, all_traffic, not no_wait)


@online_deployment.command()
@click.option("-n", "--name", help="Deployment name (default: the file's name).")
@deployment_endpoint_option(required=False)
@deployment_file_option(required=False)
@_put_options
@global_options
@click.pass_context
def update(
    ctx: click.Context,
    name: str | None,
    endpoint_name: str | None,
    file: Path | None,
    all_traffic: bool,
    sets: tuple[str, ...],
    no_wait: bool,
    skip_script_validation: bool,
) -> None:
    """Change an existing online deployment (from -f FILE, or with --set alone) and wait.

    New replicas start beside the old ones, which keep serving until the new ones are ready.

    \b
    Examples:
      ferry online-deployment update -f blue-deployment.yml
      ferry online-deployment update -n blue -e my-endpoint --set instance_count=2
    """
    ml = client(ctx)
    if file is not None:
        fields = {"name": name, "endpoint_name": endpoint_name}
        spec = build_spec(OnlineDeploymentSpec, file, fields, sets)
        if spec.endpoint_name:
            ml.online_deployments.get(spec.name, spec.endpoint_name)  # update never creates
    elif not name or not endpoint_name:
        raise click.UsageError("pass -f FILE, or --name and --endpoint-name with --set ...")
    elif not sets and not all_traffic:
        raise click.UsageError("nothing to update; pass --set KEY=VALUE, --all-traffic or -f.")
    else:
        view = to_data(ml.online_deployments.get(name, endpoint_name))
        spec = spec_from_view(OnlineDeploymentSpec, view, sets)
        if (spec.name, spec.endpoint_name) != (name, endpoint_name):
            raise click.UsageError(
                "--set cannot rename a deployment or move it to another endpoint."
            )
    _save(ctx, ml, spec, all_traffic, not no_wait)


@online_deployment.command()
@click.option("-n", "--name", required=True, help="Deployment name.")
@deployment_endpoint_option(required=True)
@global_options
@click.pass_context
def show(ctx: click.Context, name: str, endpoint_name: str) -> None:
    """Show an online deployment: provisioning_state, error, replicas and settings."""
    emit(ctx, client(ctx).online_deployments.get(name, endpoint_name))


@online_deployment.command("list")
@deployment_endpoint_option(required=True)
@global_options
@click.pass_context
def list_(ctx: click.Context, endpoint_name: str) -> None:
    """List an endpoint's online deployments."""
    ml = client(ctx)
    emit(ctx, ml.online_deployments.list(endpoint_name))


@online_deployment.command()
@click.option("-n", "--name", required=True, help="Deployment name.")
@deployment_endpoint_option(required=True)
@yes_option
@click.option("--no-wait", is_flag=True, help="Accepted for az compatibility.")
@global_options
@click.pass_context
def delete(ctx: click.Context, name: str, endpoint_name: str, yes: bool, no_wait: bool) -> None:
    """Delete an online deployment that takes no live traffic; its replicas stop."""
    ml = client(ctx)
    ml.online_deployments.get(name, endpoint_name)  # a missing one fails before the question
    confirm_delete(f"online deployment {name!r} of endpoint {endpoint_name!r}", yes)
    ml.online_deployments.begin_delete(name, endpoint_name).result()


@online_deployment.command("get-logs")
@click.option("-n", "--name", required=True, help="Deployment name.")
@deployment_endpoint_option(required=True)
@click.option(
    "-l",
    "--lines",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="Lines from the end of each replica's log.",
)
@click.option(
    "-c",
    "--container",
    type=click.Choice(sorted(_CONTAINERS)),
    help="storage-initializer: how the model, code and environment were prepared; "
    "default: the scoring server (init() and run() output).",
)
@global_options
@click.pass_context
def get_logs(
    ctx: click.Context, name: str, endpoint_name: str, lines: int, container: str | None
) -> None:
    """Print the last lines of the deployment's logs (every replica's).

    \b
    Example:
      ferry online-deployment get-logs --name blue --endpoint-name my-endpoint --lines 100
    """
    text = client(ctx).online_deployments.get_logs(
        name,
        endpoint_name,
        lines,
        container_type=_CONTAINERS[container] if container else None,
    )
    click.echo(text, nl=not text.endswith("\n"))


online_deployment.add_command(serve)
