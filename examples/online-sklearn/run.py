"""Azure's online-endpoint quickstart (model-1, a scikit-learn regression) on Ferry, end to end.

    python examples/online-sklearn/run.py ./my-workspace                  # builds the environment
    python examples/online-sklearn/run.py ./my-workspace --server-python  # no environment build
    python examples/online-sklearn/run.py ./my-workspace --stop           # stop the server after

It registers model-1 (from the shared azureml-examples data beside the repository, or
``--model-dir``), creates the endpoint and the blue deployment, sends it all the traffic, scores
``sample-request.json`` and prints a ``curl`` line to score it again by hand. The workspace's server
keeps running (and the endpoint with it) unless ``--stop`` is given.
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path

from ferry import AssetTypes, MLClient, Model
from ferry.local_workspace.launcher import stop_server
from ferry.specs.loader import load_spec
from ferry.specs.online import OnlineDeploymentSpec, OnlineEndpointSpec

HERE = Path(__file__).resolve().parent
#: The shared azureml-examples data sits beside the repository (``<repo>/../shared``).
MODEL_1 = HERE.parents[2] / "shared/data/azureml-examples/cli/endpoints/online/model-1"

#: Development option: run score.py in the server's own interpreter (no environment build);
#: that interpreter then needs scikit-learn, joblib and numpy.
SERVER_PYTHON = "ferry:server-python"


def curl_line(scoring_uri: str, key: str, request_file: Path) -> str:
    """The command that scores ``request_file`` again from a shell."""
    return shlex.join(
        [
            "curl", "-s",
            "-H", f"Authorization: Bearer {key}",
            "-H", "Content-Type: application/json",
            "-d", f"@{request_file}",
            scoring_uri,
        ]
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workspace", type=Path, help="Ferry workspace folder (created if new)")
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=MODEL_1 / "model",
        help="folder holding sklearn_regression_model.pkl (default: the shared model-1/model)",
    )
    parser.add_argument(
        "--request",
        type=Path,
        help="JSON request to score (default: sample-request.json beside --model-dir)",
    )
    parser.add_argument(
        "--server-python",
        action="store_true",
        help=f"environment: {SERVER_PYTHON} (needs scikit-learn, joblib, numpy in the server)",
    )
    parser.add_argument("--stop", action="store_true", help="stop the server when done")
    args = parser.parse_args()
    model_dir = args.model_dir.resolve()
    request_file = (args.request or model_dir.parent / "sample-request.json").resolve()
    for path in (model_dir / "sklearn_regression_model.pkl", request_file):
        if not path.is_file():
            raise SystemExit(f"{path} does not exist; pass --model-dir (and --request)")

    started = time.monotonic()
    ml_client = MLClient(workspace=args.workspace.resolve())
    try:
        # The folder keeps its name: score.py finds $AZUREML_MODEL_DIR/model/<file>.pkl.
        model = ml_client.models.create_or_update(
            Model(
                name="model-1",
                path=str(model_dir),
                type=AssetTypes.CUSTOM_MODEL,
                description="scikit-learn LinearRegression of Azure's online-endpoint sample",
            )
        )
        print(f"model {model.name}:{model.version} registered")

        endpoint = load_spec(OnlineEndpointSpec, HERE / "endpoint.yml")
        ml_client.online_endpoints.begin_create_or_update(endpoint).result()
        deployment = load_spec(OnlineDeploymentSpec, HERE / "blue-deployment.yml")
        if args.server_python:
            deployment.environment = SERVER_PYTHON
        else:
            print("building the environment on first use (later runs reuse it) ...")
        ml_client.online_deployments.begin_create_or_update(deployment).result(timeout=900)
        endpoint.traffic = {deployment.name: 100}
        ml_client.online_endpoints.begin_create_or_update(endpoint).result()
        print(f"endpoint {endpoint.name}: deployment {deployment.name} takes all the traffic")

        answer = ml_client.online_endpoints.invoke(
            endpoint_name=endpoint.name, request_file=str(request_file)
        )
        print(f"predictions for {request_file.name}: {json.loads(answer)}")

        scoring_uri = ml_client.online_endpoints.get(endpoint.name).scoring_uri
        keys = ml_client.online_endpoints.get_keys(endpoint.name)
        print(f"ready in {time.monotonic() - started:.1f} s; score it again with:\n")
        print(f"  {curl_line(str(scoring_uri), keys.primary_key, request_file)}\n")  # type: ignore[union-attr]
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
