"""``ferry batch-endpoint invoke``: start a batch job (as ``az ml batch-endpoint invoke``)."""

from __future__ import annotations

from pathlib import Path

import click

from ferry.cli.batch_params import params_override
from ferry.cli.context import client, global_options
from ferry.cli.invoke_file import read_invoke_file
from ferry.cli.output import emit
from ferry.client import Input
from ferry.specs.loader import is_uri

__all__ = ["invoke"]


def _input_type(path: str, given: str | None) -> str:
    """``--input-type``, else what a local path is (a file is uri_file), else uri_folder."""
    if given:
        return given
    if not is_uri(path) and Path(path).expanduser().is_file():
        return "uri_file"
    return "uri_folder"


@click.command()
@click.option("-n", "--name", required=True, help="Endpoint name.")
@click.option("-d", "--deployment-name", help="Deployment to run; default: the endpoint's default.")
@click.option(
    "--input",
    "input_",
    metavar="PATH|URI",
    help="Local file or folder (staged by content: linked by a local server, else uploaded "
    "once), azureml:<data>:<version>, azureml:<data>@latest or "
    "azureml://datastores/<name>/paths/<path>.",
)
@click.option(
    "-f",
    "--file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML of the job's inputs: and outputs: (as az's --file); instead of --input.",
)
@click.option(
    "--input-type",
    type=click.Choice(["uri_folder", "uri_file"]),
    help="Default: uri_file for a local file, else uri_folder.",
)
@click.option(
    "--output-path",
    metavar="URI",
    help="Also copy the outputs to azureml://datastores/<name>/paths/<path> when the job ends.",
)
@click.option("--mini-batch-size", type=click.IntRange(min=1), help="Files per mini-batch.")
@click.option("--instance-count", type=click.IntRange(min=1), help="Instances to run on.")
@click.option("--job-name", help="Name of the job (default: generated).")
@click.option(
    "--allow-reuse",
    is_flag=True,
    help="Reuse the outputs of an identical completed job instead of running again.",
)
@click.option(
    "--input-in-place",
    is_flag=True,
    help="Read a local folder where it is instead of staging it (local server only).",
)
@click.option(
    "--set",
    "sets",
    metavar="KEY=VALUE",
    multiple=True,
    help="Override a deployment setting for this job: --set output_file_name=scores.csv.",
)
@global_options
@click.pass_context
def invoke(
    ctx: click.Context,
    name: str,
    deployment_name: str | None,
    input_: str | None,
    file: Path | None,
    input_type: str | None,
    output_path: str | None,
    mini_batch_size: int | None,
    instance_count: int | None,
    job_name: str | None,
    allow_reuse: bool,
    input_in_place: bool,
    sets: tuple[str, ...],
) -> None:
    """Start a batch job on an endpoint and print it (the job runs on in the background).

    --set overrides the deployment's settings for this job: mini_batch_size, instance_count,
    max_concurrency_per_instance, max_retries, timeout, error_threshold, output_file_name,
    logging_level, environment_variables.<NAME>.

    \b
    Examples:
      ferry batch-endpoint invoke --name heart --input ./data --query name -o tsv
      ferry batch-endpoint invoke --name heart --input azureml:heart-data@latest \\
          --set output_file_name=scores.csv --mini-batch-size 20
      ferry job stream --name "$(ferry batch-endpoint invoke -n heart --input ./data \\
          --query name -o tsv)"
      ferry batch-endpoint invoke --name heart --file inputs.yml
    """
    output_file_name = None
    if file is not None:
        if input_:
            raise click.UsageError("pass --input or -f/--file, not both.")
        spec = read_invoke_file(file)
        input_, input_type = spec.input_path, input_type or spec.input_type
        output_path, output_file_name = output_path or spec.output_path, spec.output_file_name
    if not input_:
        raise click.UsageError("pass --input PATH|URI, or -f/--file with an inputs: YAML.")
    overrides = params_override(
        sets,
        {
            "mini_batch_size": mini_batch_size,
            "instance_count": instance_count,
            "output_file_name": output_file_name,
        },
    )
    ml = client(ctx)
    # Fail on an unknown endpoint before a local input is staged for nothing.
    ml.batch_endpoints.get(name)
    if deployment_name:
        ml.batch_deployments.get(deployment_name, name)
    job = ml.batch_endpoints.invoke(
        name,
        deployment_name,
        input=Input(type=_input_type(input_, input_type), path=input_),
        output_path=output_path,
        job_name=job_name,
        params_override=overrides,
        allow_reuse=allow_reuse,
        in_place=input_in_place,
    )
    emit(ctx, job)
