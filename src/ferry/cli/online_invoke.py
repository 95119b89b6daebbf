"""``ferry online-endpoint invoke``: score one request (as ``az ml online-endpoint invoke``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ferry.cli.context import client, global_options, state
from ferry.cli.output import render
from ferry.client.online import is_text
from ferry.errors import FerryError, GatewayError, InvalidInputError

__all__ = ["invoke"]


class InvokeError(FerryError):
    """The endpoint answered with an error status; the message starts ``HTTP <status>:``."""


def _print_body(ctx: click.Context, text: str) -> None:
    current = state(ctx)
    try:
        data: Any = json.loads(text)
    except ValueError:
        click.echo(text, nl=not text.endswith("\n"))  # not JSON: exactly what the model said
        return
    if current.query or current.output not in ("json", "jsonc"):
        out = render(data, current.output, current.query, color=sys.stdout.isatty())
        click.echo(out, nl=False)
        return
    # The model's own key order is kept (render would sort the keys, as az's json output does).
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.command()
@click.option("-n", "--name", required=True, help="Endpoint name.")
@click.option(
    "-r",
    "--request-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File whose bytes are POSTed as the request body (JSON, as Azure sends it).",
)
@click.option(
    "-d",
    "--deployment-name",
    help="Send it to this deployment, whatever the traffic split (azureml-model-deployment).",
)
@click.option(
    "--output-file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the response's bytes to this file, untouched (an image, audio ...). Ferry's "
    "own option: az ml prints the answer as text.",
)
@global_options
@click.pass_context
def invoke(
    ctx: click.Context,
    name: str,
    request_file: Path,
    deployment_name: str | None,
    output_file: Path | None,
) -> None:
    """Send a request to an endpoint with its key and print the response.

    A JSON response is printed indented (--query and -o apply to it); other text is printed
    as it came. A binary response (e.g. image/png) goes to --output-file, or to stdout when that
    is not a terminal. An error status exits 1 with ERROR: HTTP <status>: <message>.

    \b
    Examples:
      ferry online-endpoint invoke --name my-endpoint --request-file sample-request.json
      ferry online-endpoint invoke -n my-endpoint -r sample-request.json -d green
      ferry online-endpoint invoke -n painter -r prompt.json --output-file out.png
    """
    try:
        response = client(ctx).online_endpoints.invoke_raw(
            name, request_file=request_file, deployment_name=deployment_name
        )
    except GatewayError as exc:
        raise InvokeError(f"HTTP {exc.http_status}: {exc.message}", details=exc.details) from exc
    media = response.headers.get("content-type", "unknown type")
    if output_file is not None:
        output_file.write_bytes(response.content)
        click.echo(f"wrote {len(response.content)} bytes ({media}) to {output_file}", err=True)
    elif is_text(response):
        _print_body(ctx, response.text)
    elif sys.stdout.isatty():
        raise InvalidInputError(
            f"the answer is binary ({media}, {len(response.content)} bytes); pass "
            "--output-file <path> to save it, or redirect stdout to a file."
        )
    else:
        sys.stdout.buffer.write(response.content)
        sys.stdout.buffer.flush()
