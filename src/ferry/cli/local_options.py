"""Options shared by the local debug commands (``online-deployment serve``, ``batch-deployment
run``), and where the plan runs: here, or under the deployment's interpreter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ferry.cli.context import client, settings
from ferry.cli.params import set_option
from ferry.errors import InvalidInputError
from ferry.local.launch import build_python, reexec, run_here
from ferry.local.resolve import Fetch, model_path
from ferry.local_workspace.launcher import server_status
from ferry.runtime.local import LocalPlan
from ferry.specs.batch import BatchDeploymentSpec
from ferry.specs.online import OnlineDeploymentSpec
from ferry.specs.refs import parse_asset_ref

__all__ = ["fetcher", "local_options", "start"]

F = TypeVar("F", bound=Callable[..., Any])


def local_options(func: F) -> F:
    """``-f``, ``--local`` (and seed 002's ``--is-local-deployment``), ``--set``, ``--secret``,
    ``--environment`` and ``--python``."""
    for option in reversed(
        (
            click.option(
                "-f",
                "--file",
                required=True,
                type=click.Path(dir_okay=False, path_type=Path),
                help="Azure ML v2 deployment YAML; model path and code folder are local paths "
                "relative to it.",
            ),
            click.option(
                "--local",
                "--is-local-deployment",
                "local",
                is_flag=True,
                help="Run on this machine, in this process (implied; az's --local spelling).",
            ),
            set_option,
            click.option(
                "--secret",
                "secrets",
                metavar="NAME=VALUE",
                multiple=True,
                help="Value of a secret the deployment grants (properties.ferry_secrets or a "
                "${{secrets.NAME}} variable); read by the azureml.core Key Vault shim.",
            ),
            click.option(
                "--environment",
                "environment",
                type=click.Choice(["current", "build"]),
                default="current",
                show_default=True,
                help="current: this interpreter (debuggers see the script); build: build the "
                "deployment's environment and run in its interpreter.",
            ),
            click.option(
                "--python",
                "python",
                type=click.Path(dir_okay=False),
                help="Run under this interpreter (e.g. an environment's .venv/bin/python).",
            ),
        )
    ):
        func = option(func)
    return func


def fetcher(ctx: click.Context) -> Fetch:
    """Resolves ``azureml:`` references through the workspace's server, if one is running (a
    local run never starts one): each version is downloaded once into
    ``<workspace>/local-assets/<kind>/<name>/<version>/``."""

    def fetch(kind: str, text: str) -> Path:
        field = "model" if kind == "model" else "code_configuration.code"
        current = settings(ctx)
        if current.server_url is None and server_status(current) is None:
            fix = "--set model.path=./model" if kind == "model" else (
                "--set code_configuration.code=./code"
            )  # fmt: skip
            raise InvalidInputError(
                f"{field} is {text!r}, a registered asset, and no server of workspace "
                f"{current.resolved_workspace} is running to download it from: start it "
                f"(`ferry server start`), or give a local path ({fix}).",
                details={"field": field},
            )
        ml = client(ctx)
        ops = ml.models if kind == "model" else ml.code
        ref = parse_asset_ref(text, field=field)
        version = ref.version or str(ops.get(ref.name, label=ref.label).version)
        folder = current.resolved_workspace / "local-assets" / kind / ref.name / version
        dest = folder / ref.name
        if dest.is_dir() and len(entries := list(dest.iterdir())) == 1:
            return entries[0]
        click.echo(f"downloading {kind} {ref.name}:{version} into {folder}", err=True)
        return ops.download(ref.name, version, download_path=str(folder))

    return fetch


def start(
    ctx: click.Context,
    spec: OnlineDeploymentSpec | BatchDeploymentSpec,
    plan: LocalPlan,
    environment: str,
    python: str | None,
    **options: Any,
) -> None:
    """Run ``plan`` here, or under ``--python``/the built environment; exits with its code."""
    if python is None and environment == "build":
        envs = settings(ctx).resolved_workspace / "envs"
        python = build_python(spec, model_path(spec), envs, lambda line: click.echo(line, err=True))
    if python is not None:
        reexec(plan, python, **options)
    ctx.exit(run_here(plan, **options))
