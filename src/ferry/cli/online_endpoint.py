"""``ferry online-endpoint``: create, update, show, list and delete online endpoints, get and
regenerate their keys (as ``az ml online-endpoint``).

``invoke`` lives in :mod:`ferry.cli.online_invoke`; this module adds it to the group.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import click

from ferry.cli.batch_params import confirm_delete, no_wait_option, yes_option
from ferry.cli.context import client, global_options
from ferry.cli.online_invoke import invoke
from ferry.cli.online_params import endpoint_spec_from_file, endpoint_spec_from_view, parse_split
from ferry.cli.output import emit
from ferry.cli.params import build_spec, file_option, set_option
from ferry.cli.studio import show_web
from ferry.client.online import EndpointAuthToken
from ferry.specs.online import OnlineEndpointSpec

__all__ = ["online_endpoint"]

F = TypeVar("F", bound=Callable[..., Any])

_CURL = """
\b
Call it from anywhere with curl:
  URI=$(ferry online-endpoint show -n my-endpoint --query scoring_uri -o tsv)
  KEY=$(ferry online-endpoint get-credentials -n my-endpoint --query primaryKey -o tsv)
  curl -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\
      -d @sample-request.json $URI
"""


@click.group("online-endpoint")
def online_endpoint() -> None:
    """Create, invoke and manage real-time endpoints (az ml online-endpoint)."""


online_endpoint.add_command(invoke)

_name_option = click.option("-n", "--name", required=True, help="Endpoint name.")
_auth_mode_option = click.option(
    "--auth-mode",
    type=click.Choice(["key", "aml_token", "aad_token"]),
    help="How callers authenticate: key (default) or aml_token (expiring tokens).",
)


def _with_curl(func: F) -> F:
    """Append the curl recipe to a command's help (put it right above ``def``)."""
    func.__doc__ = inspect.cleandoc(func.__doc__ or "") + "\n" + _CURL
    return func


@online_endpoint.command()
@click.option("-n", "--name", help="Endpoint name; overrides the file's name.")
@file_option
@_auth_mode_option
@set_option
@no_wait_option
@global_options
@click.pass_context
@_with_curl
def create(
    ctx: click.Context,
    name: str | None,
    file: Path | None,
    auth_mode: str | None,
    sets: tuple[str, ...],
    no_wait: bool,
) -> None:
    """Create (or replace) an online endpoint; deploy to it with ferry online-deployment create.

    \b
    Example:
      ferry online-endpoint create -f endpoint.yml --name my-endpoint
    """
    spec = build_spec(OnlineEndpointSpec, file, {"name": name, "auth_mode": auth_mode}, sets)
    emit(ctx, client(ctx).online_endpoints.begin_create_or_update(spec).result())


@online_endpoint.command()
@click.option("-n", "--name", help="Endpoint name (default: the file's name).")
@file_option
@click.option(
    "--traffic",
    multiple=True,
    metavar='"D1=P1 D2=P2"',
    help='Live traffic per deployment, replacing the split: --traffic "blue=90 green=10" '
    "(sums to 100, or 0 to stop live traffic).",
)
@click.option(
    "--mirror-traffic",
    multiple=True,
    metavar='"D=P"',
    help='Copy this percent of live requests to one deployment: --mirror-traffic "green=10" '
    '(at most 50; "green=0" stops mirroring).',
)
@set_option
@no_wait_option
@global_options
@click.pass_context
def update(
    ctx: click.Context,
    name: str | None,
    file: Path | None,
    traffic: tuple[str, ...],
    mirror_traffic: tuple[str, ...],
    sets: tuple[str, ...],
    no_wait: bool,
) -> None:
    """Change an existing endpoint: its traffic split, mirroring, description or tags.

    Without -f, the endpoint as it is now is the starting point; a split that is not given is
    kept.

    \b
    Examples:
      ferry online-endpoint update --name my-endpoint --traffic "blue=90 green=10"
      ferry online-endpoint update --name my-endpoint --set traffic.blue=50 traffic.green=50
      ferry online-endpoint update --name my-endpoint --mirror-traffic "green=10"
    """
    splits = {
        "traffic": parse_split("--traffic", traffic),
        "mirror_traffic": parse_split("--mirror-traffic", mirror_traffic),
    }
    ml = client(ctx)
    if file is not None:
        spec = endpoint_spec_from_file(file, {"name": name}, splits, sets)
        ml.online_endpoints.get(spec.name)  # update changes an endpoint; it never creates one
    elif not name:
        raise click.UsageError("pass --name (with --traffic, --mirror-traffic or --set) or -f.")
    elif not sets and all(split is None for split in splits.values()):
        raise click.UsageError(
            'nothing to update; pass --traffic "blue=100", --mirror-traffic, --set or -f FILE.'
        )
    else:
        spec = endpoint_spec_from_view(ml.online_endpoints.get(name), sets, splits)
        if spec.name != name:
            raise click.UsageError("--set name=... cannot rename an endpoint; create a new one.")
    emit(ctx, ml.online_endpoints.begin_create_or_update(spec).result())


@online_endpoint.command()
@_name_option
@click.option(
    "--web",
    is_flag=True,
    help="Also print (and on a desktop, open) the endpoint's studio page (a one-time login URL).",
)
@global_options
@click.pass_context
@_with_curl
def show(ctx: click.Context, name: str, web: bool) -> None:
    """Show an online endpoint: scoring_uri, auth_mode, traffic and mirror_traffic."""
    ml = client(ctx)
    found = ml.online_endpoints.get(name)
    if web:  # on stderr, so that stdout stays the endpoint for --query and pipes
        show_web(
            ml.studio_url(f"/studio/online-endpoints/{quote(name, safe='')}"),
            f"online endpoint {name}",
        )
    emit(ctx, found)


@online_endpoint.command("list")
@global_options
@click.pass_context
def list_(ctx: click.Context) -> None:
    """List the online endpoints."""
    emit(ctx, client(ctx).online_endpoints.list())


@online_endpoint.command()
@_name_option
@yes_option
@no_wait_option
@global_options
@click.pass_context
def delete(ctx: click.Context, name: str, yes: bool, no_wait: bool) -> None:
    """Delete an online endpoint, its deployments (their replicas stop) and its keys."""
    ml = client(ctx)
    ml.online_endpoints.get(name)  # a missing endpoint fails before the question is asked
    confirm_delete(f"online endpoint {name!r} and all its deployments", yes)
    ml.online_endpoints.begin_delete(name).result()


@online_endpoint.command("get-credentials")
@_name_option
@global_options
@click.pass_context
@_with_curl
def get_credentials(ctx: click.Context, name: str) -> None:
    """Print the endpoint's keys ({"primaryKey", "secondaryKey"}), or for auth_mode aml_token
    a fresh token ({"accessToken", "expiryTimeUtc", "refreshAfterTimeUtc", "tokenType"})."""
    keys = client(ctx).online_endpoints.get_keys(name)
    if isinstance(keys, EndpointAuthToken):
        emit(
            ctx,
            {
                "accessToken": keys.access_token,
                "expiryTimeUtc": keys.expiry_time_utc,
                "refreshAfterTimeUtc": keys.refresh_after_time_utc,
                "tokenType": keys.token_type,
            },
        )
    else:
        emit(ctx, {"primaryKey": keys.primary_key, "secondaryKey": keys.secondary_key})


@online_endpoint.command("regenerate-keys")
@_name_option
@click.option(
    "--key-type",
    type=click.Choice(["primary", "secondary"]),
    default="primary",
    show_default=True,
    help="Which key to replace; the old one stops working at once, the other keeps working.",
)
@no_wait_option
@global_options
@click.pass_context
def regenerate_keys(ctx: click.Context, name: str, key_type: str, no_wait: bool) -> None:
    """Replace the primary or secondary key of an auth_mode key endpoint.

    \b
    Rotate without downtime: move callers to the secondary key, regenerate the primary,
    move them back, then regenerate the secondary.
    """
    client(ctx).online_endpoints.begin_regenerate_keys(name, key_type=key_type).result()
