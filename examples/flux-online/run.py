"""Text-to-image as a real-time endpoint with Ferry's SDK: deploy FLUX, POST a prompt, get a PNG.

    python examples/flux-online/run.py ./my-workspace                  # builds flux-online-env
    python examples/flux-online/run.py ./my-workspace --server-python  # no environment build
    python examples/flux-online/run.py ./my-workspace --prompt "A lighthouse at dusk" --seed 7

Without ``--model`` it first builds the tiny random pipeline (``../flux-batch/make_tiny_flux.py``)
into ``tiny-flux/``: it draws noise, in a fraction of a second on a CPU, through the same code a
real FLUX.1-dev does. ``--model azureml:flux1-dev-nf4@latest`` serves a registered FLUX.1-dev
folder instead (see README.md). The server keeps running (and the endpoint with it) unless
``--stop`` is given.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import httpx

from ferry import MLClient
from ferry.local_workspace.launcher import stop_server
from ferry.specs.loader import load_spec
from ferry.specs.online import OnlineDeploymentSpec, OnlineEndpointSpec

HERE = Path(__file__).resolve().parent
#: make_tiny_flux.py lives in the batch example; it is imported only when tiny-flux/ is missing
#: (it imports torch, diffusers and transformers: seconds).
FLUX_BATCH = HERE.parent / "flux-batch"

#: Development option: run score.py in the server's own interpreter (no environment build);
#: that interpreter then needs the packages of ../flux-batch/requirements.txt.
SERVER_PYTHON = "ferry:server-python"


def deploy(ml_client: MLClient, model: str | None, server_python: bool) -> str:
    """Create the endpoint and its deployment with all the traffic; returns the endpoint name."""
    endpoint = load_spec(OnlineEndpointSpec, HERE / "endpoint.yml")
    ml_client.online_endpoints.begin_create_or_update(endpoint).result()
    deployment = load_spec(OnlineDeploymentSpec, HERE / "deployment.yml")
    if model:
        deployment.model = model
    elif not (HERE / "tiny-flux" / "model_index.json").is_file():
        sys.path.insert(0, str(FLUX_BATCH))
        from make_tiny_flux import build

        print(f"building the tiny FLUX pipeline in {build(HERE / 'tiny-flux')}")
    if server_python:
        deployment.environment = SERVER_PYTHON
    else:
        print("building the environment on first use (torch: minutes; later runs reuse it) ...")
    # The poller returns once init() has loaded the pipeline in every replica.
    ml_client.online_deployments.begin_create_or_update(deployment).result(timeout=3600)
    endpoint.traffic = {deployment.name: 100}
    ml_client.online_endpoints.begin_create_or_update(endpoint).result()
    print(f"endpoint {endpoint.name}: deployment {deployment.name} takes all the traffic")
    return endpoint.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workspace", type=Path, help="Ferry workspace folder (created if new)")
    parser.add_argument("--model", help="a registered model (azureml:<name>@latest) to serve")
    parser.add_argument(
        "--server-python",
        action="store_true",
        help=f"environment: {SERVER_PYTHON} (needs torch and diffusers in the server)",
    )
    parser.add_argument("--prompt", default="A red fox sleeping in the snow under a pine tree.")
    parser.add_argument("--steps", type=int, default=4, help="denoising steps (FLUX.1-dev: 28)")
    parser.add_argument("--width", type=int, default=64, help="pixels, a multiple of 16")
    parser.add_argument("--height", type=int, default=64, help="pixels, a multiple of 16")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--output", type=Path, help="where to save the PNG (default: outputs/<time>.png)"
    )
    parser.add_argument("--stop", action="store_true", help="stop the server when done")
    args = parser.parse_args()
    request = {
        "prompt": args.prompt,
        "steps": args.steps,
        "width": args.width,
        "height": args.height,
        "seed": args.seed,
    }

    ml_client = MLClient(workspace=args.workspace.resolve())
    try:
        name = deploy(ml_client, args.model, args.server_python)
        scoring_uri = str(ml_client.online_endpoints.get(name).scoring_uri)
        key = ml_client.online_endpoints.get_keys(name).primary_key  # type: ignore[union-attr]
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

        started = time.monotonic()
        response = httpx.post(scoring_uri, json=request, headers=headers, timeout=200)
        if response.status_code != 200 or response.headers["content-type"] != "image/png":
            raise SystemExit(f"the endpoint answered {response.status_code}: {response.text}")
        output = args.output or HERE / "outputs" / f"{time.strftime('%Y%m%d-%H%M%S')}.png"
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(response.content)
        print(
            f"{args.width}x{args.height} PNG ({len(response.content)} bytes) in "
            f"{time.monotonic() - started:.2f} s from deployment "
            f"{response.headers.get('azureml-model-deployment')}: {output.resolve()}"
        )
        curl = ["curl", "-s", "-H", f"Authorization: Bearer {key}"]
        curl += ["-H", "Content-Type: application/json", "-d", json.dumps(request)]
        print(f"\nanother one:\n\n  {shlex.join([*curl, scoring_uri, '-o', 'image.png'])}\n")
    finally:
        ml_client.close()
        if args.stop:
            stop_server(ml_client.settings)
    if args.stop:
        print("server stopped (run without --stop to keep the endpoint up for curl)")
    else:
        print(f"the server keeps running; stop it: ferry --workspace {args.workspace} server stop")


if __name__ == "__main__":
    main()
