"""``ferry online-deployment serve``: a deployment's scoring script behind a local HTTP server,
in this process, with ``--reload`` (Azure: ``az ml online-deployment create --local``, which needs
Docker, and ``azmlinfsrv --entry_script score.py``, which knows no deployment YAML)."""

from __future__ import annotations

from pathlib import Path

import click

from ferry.cli.context import global_options
from ferry.cli.local_options import fetcher, local_options, start
from ferry.cli.params import build_spec
from ferry.local.resolve import online_plan, parse_secrets
from ferry.specs.online import OnlineDeploymentSpec

__all__ = ["serve"]


@click.command()
@local_options
@click.option("--port", type=click.IntRange(0, 65535), default=5001, show_default=True,
              help="Port to listen on (azmlinfsrv's default; 0 picks a free one).")  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--reload", is_flag=True, help="Load the script again (and call init()) when a file in the "
    "code folder changes."
)  # fmt: skip
@global_options
@click.pass_context
def serve(
    ctx: click.Context,
    file: Path,
    local: bool,
    sets: tuple[str, ...],
    secrets: tuple[str, ...],
    environment: str,
    python: str | None,
    port: int,
    host: str,
    reload: bool,
) -> None:
    """Serve a deployment's score.py locally, as its replicas would, with no server or Docker.

    The script runs in this process with the deployment's AZUREML_MODEL_DIR, environment
    variables, secrets and shims: a breakpoint in init() or run() is hit under pdb, debugpy or an
    IDE. POST /score scores, GET / is the liveness probe, GET /swagger.json the API document. A
    failing init() or run() shows its file, line and source in the answer and here.

    \b
    Examples:
      ferry online-deployment serve -f blue-deployment.yml --reload
      python -m pdb "$(which ferry)" online-deployment serve -f blue-deployment.yml
      ferry online-deployment serve -f blue-deployment.yml --environment build --port 8080
    """
    spec = build_spec(OnlineDeploymentSpec, file, {}, sets)
    command = f"ferry online-deployment serve -f {file}"
    plan = online_plan(spec, parse_secrets(secrets), command, fetcher(ctx))
    start(ctx, spec, plan, environment, python, host=host, port=port, reload=reload)
