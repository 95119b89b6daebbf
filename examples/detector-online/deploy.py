"""Deploy the object detector to an online endpoint, with its inference-time parameters.

    # blue: the first deployment, all the traffic
    python deploy.py --workspace ./det-ws --deployment blue --box-score-thresh 0.5 --traffic 100
    # green: stricter and tiled, no live traffic yet (try it with azureml-model-deployment: green)
    python deploy.py --workspace ./det-ws --deployment green --box-score-thresh 0.8 \\
        --tile-grid-size 2x2 --traffic 0
    # move 10% of the traffic to green, then all of it (nothing is redeployed)
    python deploy.py --workspace ./det-ws --deployment green --traffic 10 --traffic-only
    python deploy.py --workspace ./det-ws --deployment green --traffic 100 --traffic-only

The parameters become the deployment's ``environment_variables`` (BOX_SCORE_THRESH,
TILE_GRID_SIZE, ...), which score.py reads in ``init()``: each deployment of one endpoint can
use its own. ``--server-python`` is the local development mode: the scoring script runs in the
server's own interpreter, with no environment to build.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ferry import MLClient
from ferry.errors import NotFoundError
from ferry.specs.loader import load_spec
from ferry.specs.online import OnlineDeploymentSpec, OnlineEndpointSpec

HERE = Path(__file__).resolve().parent
SERVER_PYTHON = "ferry:server-python"

#: Command-line option -> environment variable read by code/detector.py.
PARAMETERS = {
    "box_score_thresh": "BOX_SCORE_THRESH",
    "box_detections_per_img": "BOX_DETECTIONS_PER_IMG",
    "tile_grid_size": "TILE_GRID_SIZE",
    "tile_overlap_ratio": "TILE_OVERLAP_RATIO",
    "tile_predictions_nms_thresh": "TILE_PREDICTIONS_NMS_THRESH",
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workspace", type=Path, help="Ferry workspace (default: $FERRY_WORKSPACE)")
    p.add_argument("--endpoint", default="detector", help="endpoint name (created if new)")
    p.add_argument("--deployment", default="blue", help="deployment name, e.g. blue or green")
    p.add_argument(
        "--traffic",
        type=int,
        help="percent of live traffic for this deployment; the endpoint's other deployments "
        "share the rest in proportion to what they had",
    )
    p.add_argument(
        "--traffic-only", action="store_true", help="only move traffic; do not (re)deploy"
    )
    p.add_argument("--model-name", help="a registered model to serve instead of blob-detector/")
    p.add_argument("--model-version", default="latest", help="its version (default: latest)")
    p.add_argument(
        "--server-python",
        action="store_true",
        help=f"environment: {SERVER_PYTHON} (local mode: no environment build)",
    )
    p.add_argument("--instance-count", type=int, default=1)
    group = p.add_argument_group("inference-time parameters (unset: the deployment.yml value)")
    group.add_argument("--box-score-thresh", type=float, help="only boxes scoring above this")
    group.add_argument("--box-detections-per-img", type=int, help="at most this many boxes")
    group.add_argument("--tile-grid-size", help="COLSxROWS tiles, e.g. 2x2 (1x1: no tiling)")
    group.add_argument("--tile-overlap-ratio", type=float, help="overlap of adjacent tiles")
    group.add_argument(
        "--tile-predictions-nms-thresh", type=float, help="overlap that merges tile boxes"
    )
    return p


def deployment_spec(args: argparse.Namespace) -> OnlineDeploymentSpec:
    """deployment.yml with this command line's name, model, environment and parameters."""
    spec = load_spec(OnlineDeploymentSpec, HERE / "deployment.yml")
    spec.name = args.deployment
    spec.endpoint_name = args.endpoint
    spec.instance_count = args.instance_count
    if args.model_name:
        spec.model = (
            f"azureml:{args.model_name}@latest"
            if args.model_version == "latest"
            else f"azureml:{args.model_name}:{args.model_version}"
        )
    if args.server_python:
        spec.environment = SERVER_PYTHON
    for option, variable in PARAMETERS.items():
        value = getattr(args, option)
        if value is not None:
            spec.environment_variables[variable] = str(value)
    return spec


def ensure_endpoint(ml_client: MLClient, name: str) -> None:
    """Create the endpoint from endpoint.yml unless it exists."""
    try:
        ml_client.online_endpoints.get(name)
    except NotFoundError:
        endpoint = load_spec(OnlineEndpointSpec, HERE / "endpoint.yml", [f"name={name}"])
        ml_client.online_endpoints.begin_create_or_update(endpoint).result()
        print(f"endpoint {name} created")


def split(current: dict[str, int], deployment: str, percent: int) -> dict[str, int]:
    """``deployment`` gets ``percent``; the others share the rest as they shared it before."""
    if not 0 <= percent <= 100:
        raise SystemExit(f"--traffic {percent}: use 0 to 100")
    others = {name: share for name, share in current.items() if name != deployment}
    rest = 100 - percent
    if rest and not others:
        raise SystemExit(
            f"{deployment} is the endpoint's only deployment: it takes 100% (or 0% to stop)"
        )
    weights = others if sum(others.values()) else dict.fromkeys(others, 1)
    total = sum(weights.values())
    exact = {name: rest * weight / total for name, weight in weights.items()}
    shares = {name: int(value) for name, value in exact.items()}
    # Largest remainders get the points lost to rounding down, so the split adds up to 100.
    by_remainder = sorted(exact, key=lambda name: exact[name] - shares[name], reverse=True)
    for name in by_remainder[: rest - sum(shares.values())]:
        shares[name] += 1
    return {**shares, deployment: percent}


def set_traffic(ml_client: MLClient, endpoint_name: str, deployment: str, percent: int) -> dict:
    """Give ``deployment`` its share of the endpoint's live traffic; returns the new split."""
    endpoint = ml_client.online_endpoints.get(endpoint_name)
    endpoint.traffic = split(endpoint.traffic or {}, deployment, percent)
    ml_client.online_endpoints.begin_create_or_update(endpoint).result()
    return ml_client.online_endpoints.get(endpoint_name).traffic or {}


def deploy(ml_client: MLClient, args: argparse.Namespace) -> None:
    """What the command line asks for: (re)deploy, then move traffic."""
    ensure_endpoint(ml_client, args.endpoint)
    if not args.traffic_only:
        spec = deployment_spec(args)
        shown = {k: v for k, v in spec.environment_variables.items() if k in PARAMETERS.values()}
        print(f"deploying {spec.name} to {args.endpoint} with {shown} ...")
        deployment = ml_client.online_deployments.begin_create_or_update(spec).result(timeout=900)
        print(f"deployment {deployment.name}: {deployment.provisioning_state}")
    elif args.traffic is None:
        raise SystemExit("--traffic-only needs --traffic")
    if args.traffic is not None:
        traffic = set_traffic(ml_client, args.endpoint, args.deployment, args.traffic)
        print(f"traffic of {args.endpoint}: {traffic}")


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    ml_client = MLClient(workspace=args.workspace.resolve()) if args.workspace else MLClient()
    try:
        deploy(ml_client, args)
    finally:
        ml_client.close()


if __name__ == "__main__":
    main()
