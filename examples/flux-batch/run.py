"""Text-to-image as a batch job with Ferry's SDK: deploy FLUX, send the prompt files, get PNGs.

    python examples/flux-batch/run.py ./my-workspace                  # builds flux-env
    python examples/flux-batch/run.py ./my-workspace --server-python  # no environment build

Without ``--model`` it first builds the tiny random pipeline (``make_tiny_flux.py``), which draws
noise in a fraction of a second per image on a CPU; ``--model azureml:flux1-dev-nf4@latest`` uses a
registered FLUX.1-dev folder instead (see README.md).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from ferry import AssetTypes, Input, MLClient
from ferry.specs.batch import BatchDeploymentSpec, BatchEndpointSpec
from ferry.specs.loader import load_spec

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_tiny_flux import build  # noqa: E402

#: Development option: run the scoring script in the server's own interpreter (no environment
#: build); that interpreter then needs the packages of requirements.txt.
SERVER_PYTHON = "ferry:server-python"


def stream(ml_client: MLClient, workspace: Path, job_name: str) -> None:
    """Follow the job until it ends: the CLI's live progress bar when there is one."""
    cli = [sys.executable, "-m", "ferry.cli.main", "--workspace", str(workspace), "job", "stream"]
    if subprocess.run([*cli, "--help"], capture_output=True, check=False).returncode == 0:
        subprocess.run([*cli, "--name", job_name], check=False)
    else:
        ml_client.jobs.stream(job_name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workspace", type=Path, help="Ferry workspace folder (created if new)")
    parser.add_argument("--model", help="a registered model (azureml:<name>@latest) to use")
    parser.add_argument(
        "--server-python",
        action="store_true",
        help=f"environment: {SERVER_PYTHON} (needs requirements.txt in the server's interpreter)",
    )
    parser.add_argument("--data", type=Path, default=HERE / "data", help="folder of prompt files")
    args = parser.parse_args()
    workspace = args.workspace.resolve()

    ml_client = MLClient(workspace=workspace)
    endpoint = load_spec(BatchEndpointSpec, HERE / "endpoint.yml")
    ml_client.batch_endpoints.begin_create_or_update(endpoint)
    deployment = load_spec(BatchDeploymentSpec, HERE / "deployment.yml")
    if args.model:
        deployment.model = args.model
    elif not (HERE / "tiny-flux" / "model_index.json").is_file():
        print(f"building the tiny FLUX pipeline in {build(HERE / 'tiny-flux')}")
    if args.server_python:
        deployment.environment = SERVER_PYTHON
    ml_client.batch_deployments.begin_create_or_update(deployment, set_default=True)
    print(f"endpoint {endpoint.name}, default deployment {deployment.name}")

    started = time.monotonic()
    job = ml_client.batch_endpoints.invoke(
        endpoint_name=endpoint.name,
        input=Input(path=str(args.data.resolve()), type=AssetTypes.URI_FOLDER),
    )
    print(f"job {job.name}")
    stream(ml_client, workspace, job.name)
    job = ml_client.jobs.get(job.name)
    if job.status != "Completed":
        raise SystemExit(f"job {job.name} ended {job.status}: {job.error}")
    print(f"job {job.name} completed in {time.monotonic() - started:.1f} s")

    download = HERE / "outputs" / job.name
    score_dir = ml_client.jobs.download(
        name=job.name, download_path=str(download), output_name="score"
    )
    results = pd.read_csv(
        score_dir / "predictions.csv", header=None, names=["prompt_file", "image_file"], sep=" "
    )
    for row in results.itertuples():
        print(f"{row.prompt_file} -> {score_dir / row.image_file}")


if __name__ == "__main__":
    main()
