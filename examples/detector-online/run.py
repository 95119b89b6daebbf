"""A blue/green rollout of the object detector, end to end, with deploy.py's command lines.

    python examples/detector-online/run.py ./det-ws                  # builds detector-env
    python examples/detector-online/run.py ./det-ws --server-python  # no environment build

1. blue: BOX_SCORE_THRESH 0.5, no tiling, all the traffic;
2. green: BOX_SCORE_THRESH 0.8, TILE_GRID_SIZE 2x2, no traffic: tried by naming it in the
   ``azureml-model-deployment`` header;
3. 10% of the live traffic to green, counted over ``--requests`` requests;
4. all of it to green.

The server keeps running (and the endpoint with it) unless ``--stop`` is given.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from ferry import MLClient
from ferry.local_workspace.launcher import stop_server

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import deploy  # noqa: E402
from make_sample import draw  # noqa: E402

SAMPLE = HERE / "samples" / "shapes.png"


class Scorer:
    """Posts images to the endpoint's scoring URI with its key, as any HTTP client would."""

    def __init__(self, ml_client: MLClient, endpoint: str) -> None:
        self.uri = str(ml_client.online_endpoints.get(endpoint).scoring_uri)
        self.key = ml_client.online_endpoints.get_keys(endpoint).primary_key  # type: ignore[union-attr]
        self.http = httpx.Client(timeout=30)

    def __call__(self, image: bytes, deployment: str | None = None) -> tuple[str, list[dict]]:
        """(the deployment that answered, its boxes) for one image sent as multipart ``file``."""
        headers = {"Authorization": f"Bearer {self.key}"}
        if deployment:
            headers["azureml-model-deployment"] = deployment
        files = {"file": ("image.png", image, "image/png")}
        response = self.http.post(self.uri, files=files, headers=headers)
        response.raise_for_status()
        return response.headers["azureml-model-deployment"], response.json()

    def tally(self, image: bytes, requests: int) -> Counter[str]:
        """Which deployment answered each of ``requests`` requests (two in flight at a time)."""
        with ThreadPoolExecutor(2) as pool:
            return Counter(name for name, _ in pool.map(lambda _: self(image), range(requests)))

    def close(self) -> None:
        self.http.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workspace", type=Path, help="Ferry workspace folder (created if new)")
    parser.add_argument("--endpoint", default="detector")
    parser.add_argument(
        "--server-python", action="store_true", help=f"environment: {deploy.SERVER_PYTHON}"
    )
    parser.add_argument("--requests", type=int, default=200, help="requests per traffic check")
    parser.add_argument("--stop", action="store_true", help="stop the server when done")
    args = parser.parse_args()
    workspace = args.workspace.resolve()
    if not SAMPLE.is_file():
        SAMPLE.parent.mkdir(parents=True, exist_ok=True)
        draw().save(SAMPLE)
    image = SAMPLE.read_bytes()

    common = ["--workspace", str(workspace), "--endpoint", args.endpoint]
    common += ["--server-python"] if args.server_python else []

    def step(title: str, *options: str) -> None:
        print(f"\n== {title}\n$ python deploy.py {shlex.join([*common, *options])}")
        deploy.main([*common, *options])

    step("1. blue", "--deployment", "blue", "--box-score-thresh", "0.5", "--traffic", "100")
    step(
        "2. green, without traffic",
        *("--deployment", "green", "--box-score-thresh", "0.8", "--tile-grid-size", "2x2"),
        *("--traffic", "0"),
    )
    ml_client = MLClient(workspace=workspace)
    score = Scorer(ml_client, args.endpoint)
    try:
        for name in ("blue", "green"):
            _, boxes = score(image, deployment=name)
            print(f"{name} finds {len(boxes)} objects in {SAMPLE.name}:")
            for box in boxes:
                print(f"    {box['label']:<6} score {box['score']:.2f} at {box['box']}")

        step("3. 10% to green", "--deployment", "green", "--traffic", "10", "--traffic-only")
        print(f"{args.requests} requests answered by {dict(score.tally(image, args.requests))}")
        step("4. all to green", "--deployment", "green", "--traffic", "100", "--traffic-only")
        print(f"{args.requests} requests answered by {dict(score.tally(image, args.requests))}")

        auth = ["-H", f"Authorization: Bearer {score.key}"]
        print("\nscore an image yourself (multipart, or the raw bytes):\n")
        print(f"  {shlex.join(['curl', '-s', *auth, '-F', f'file=@{SAMPLE}', score.uri])}")
        raw = ["-H", "Content-Type: image/png", "--data-binary", f"@{SAMPLE}"]
        print(f"  {shlex.join(['curl', '-s', *auth, *raw, score.uri])}\n")
    finally:
        score.close()
        ml_client.close()
        if args.stop:
            stop_server(ml_client.settings)
    if args.stop:
        print("server stopped (run without --stop to keep the endpoint up for curl)")
    else:
        print(f"the server keeps running; stop it: ferry --workspace {args.workspace} server stop")


if __name__ == "__main__":
    main()
