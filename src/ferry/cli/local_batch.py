"""``ferry batch-deployment run --local``: a batch deployment's script over local files, in this
process, with the job's mini-batch rules (Azure has no local batch run; its workaround is calling
``init()`` and ``run()`` from a notebook by hand)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ferry.cli.context import global_options
from ferry.cli.local_options import fetcher, local_options, start
from ferry.cli.params import build_spec
from ferry.local.resolve import batch_plan, parse_secrets
from ferry.specs.batch import BatchDeploymentSpec

__all__ = ["run"]


@click.command()
@local_options
@click.option(
    "-i",
    "--input",
    "inputs",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="A local file or folder to score (repeatable).",
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for predictions.csv and what run() writes under AZUREML_BI_OUTPUT_PATH "
    "(default: ./ferry-local/<deployment>-<time>).",
)
@click.option("--mini-batch-size", type=click.IntRange(min=1), help="Files per mini-batch.")
@global_options
@click.pass_context
def run(
    ctx: click.Context,
    file: Path,
    local: bool,
    sets: tuple[str, ...],
    secrets: tuple[str, ...],
    environment: str,
    python: str | None,
    inputs: tuple[Path, ...],
    output_dir: Path | None,
    mini_batch_size: int | None,
) -> None:
    """Run a batch deployment's scoring script over local files, in this process.

    Mini-batches, append_row output, error_threshold, arguments, environment variables, secrets
    and AZUREML_MODEL_DIR are the deployment's; a breakpoint in init() or run() is hit under a
    debugger. A failing mini-batch shows the script's file, line and source; it is not retried.

    \b
    Examples:
      ferry batch-deployment run -f deployment.yml --local --input ./data
      ferry batch-deployment run -f deployment.yml --input ./data --set settings.mini_batch_size=2
    """
    spec = build_spec(BatchDeploymentSpec, file, {}, sets)
    if output_dir is None:
        output_dir = Path("ferry-local") / f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    command = f"ferry batch-deployment run -f {file}"
    plan = batch_plan(
        spec, inputs, output_dir.resolve(), parse_secrets(secrets), command, fetcher(ctx)
    )
    if mini_batch_size is not None:
        plan.settings["mini_batch_size"] = mini_batch_size
    click.echo(f"output folder: {output_dir.resolve()}")
    start(ctx, spec, plan, environment, python)
