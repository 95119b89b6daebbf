"""The whole digits flow with Ferry's SDK: train, deploy, score a folder of PNGs, check accuracy.

    python examples/digits-batch/run.py ./my-workspace                  # builds digits-env
    python examples/digits-batch/run.py ./my-workspace --server-python  # no environment build

The SDK calls are the ones an Azure ML user writes with ``azure.ai.ml``; only the imports and the
``MLClient(workspace=...)`` line differ.
"""

from __future__ import annotations

import argparse
import shutil
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

from train import label_of, train  # noqa: E402

#: Development option: run the scoring script in the server's own interpreter (no environment
#: build); that interpreter then needs scikit-learn, pillow and pandas.
SERVER_PYTHON = "ferry:server-python"


def ferry_cli(workspace: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "ferry.cli.main", "--workspace", str(workspace), *args]


def cli_has(workspace: Path, *command: str) -> bool:
    """Whether this Ferry's CLI offers ``command`` (the job commands are newer than the SDK)."""
    probe = subprocess.run(
        [*ferry_cli(workspace, *command), "--help"], capture_output=True, check=False
    )
    return probe.returncode == 0


def stream(ml_client: MLClient, workspace: Path, job_name: str) -> None:
    """Follow the job until it ends: the CLI's live progress bar when there is one."""
    if cli_has(workspace, "job", "stream"):
        subprocess.run(ferry_cli(workspace, "job", "stream", "--name", job_name), check=False)
    else:
        ml_client.jobs.stream(job_name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workspace", type=Path, help="Ferry workspace folder (created if new)")
    parser.add_argument(
        "--fresh", action="store_true", help="stop the workspace's server and delete it first"
    )
    parser.add_argument(
        "--server-python",
        action="store_true",
        help=f"environment: {SERVER_PYTHON} (needs scikit-learn, pillow, pandas in the server)",
    )
    parser.add_argument("--n-images", type=int, default=300, help="held-out digits to score")
    args = parser.parse_args()
    workspace = args.workspace.resolve()

    if args.fresh and workspace.exists():
        subprocess.run(ferry_cli(workspace, "server", "stop"), capture_output=True, check=False)
        shutil.rmtree(workspace)

    print("== 1. train")
    _, data_dir = train(HERE, args.n_images)

    print(f"== 2. create the endpoint and deployment in {workspace}")
    ml_client = MLClient(workspace=workspace)
    endpoint = load_spec(BatchEndpointSpec, HERE / "endpoint.yml")
    ml_client.batch_endpoints.begin_create_or_update(endpoint)
    deployment = load_spec(BatchDeploymentSpec, HERE / "deployment.yml")
    if args.server_python:
        deployment.environment = SERVER_PYTHON
    ml_client.batch_deployments.begin_create_or_update(deployment, set_default=True)
    print(f"endpoint {endpoint.name}, default deployment {deployment.name}")

    print("== 3. invoke")
    started = time.monotonic()
    job = ml_client.batch_endpoints.invoke(
        endpoint_name=endpoint.name,
        input=Input(path=str(data_dir), type=AssetTypes.URI_FOLDER),
    )
    print(f"job {job.name}")
    stream(ml_client, workspace, job.name)
    job = ml_client.jobs.get(job.name)
    if job.status != "Completed":
        raise SystemExit(f"job {job.name} ended {job.status}: {job.error}")
    print(f"job {job.name} completed in {time.monotonic() - started:.1f} s")

    print("== 4. download and check")
    download = HERE / "outputs" / job.name
    ml_client.jobs.download(name=job.name, download_path=str(download), output_name="score")
    predictions_file = download / "named-outputs" / "score" / "predictions.csv"
    score = pd.read_csv(predictions_file, header=None, names=["file", "prediction"], sep=" ")
    truth = score["file"].map(label_of)
    accuracy = float((truth == score["prediction"]).mean())
    print(score.head().to_string(index=False))
    print(f"{len(score)} predictions, accuracy {accuracy:.3f}")
    print(f"predictions: {predictions_file}")


if __name__ == "__main__":
    main()
