"""The Ray backend on a local 2-node cluster against the local backend, same worker count.

Usage: ``.venv/bin/python bench/ray/ray_vs_local.py [--items 10000] [--pairs 3] [--starts 3]``
(``make bench-ray``). Prints the measurements as JSON lines and writes
``bench/results/ray-latest.json``. Nothing is asserted: the figures are reported.

* **Throughput.** The 1 ms/item bench of ``bench/batch`` (``driver.py``, files of 8 bytes, a
  calibrated pure-Python loop), mini-batches of 100, 2 workers: ``run_job`` with
  ``LocalCompute()`` (two subprocesses) and with ``RayCompute`` (two actors, ``SPREAD`` over a
  head and a worker node of one CPU each, as two 1-CPU machines). Both run in this process (a
  Ray driver either way), in A-B-B-A pairs so a drifting machine speed cancels out; the ratio is
  local wall time / Ray wall time, so above 1 means Ray was faster.
* **Worker start on a node.** A 2-file job with 2 workers, wall time: *cold* is the first job on
  the fresh cluster (Ray starts the actors' worker processes, each node unpacks the code folder
  into its empty ``FERRY_RAY_CACHE``); *warm* the ones after it (code already unpacked). The
  environment is the bench's own interpreter, so no environment is built here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "batch"))

from contenders import checksum, code_folder, job_folder, log, make_items  # noqa: E402
from driver import calibrate  # noqa: E402

from ferry.backends.local import LocalCompute  # noqa: E402
from ferry.batch.engine import run_job  # noqa: E402


def timed(job: Path, compute: Any) -> dict[str, Any]:
    t0 = time.perf_counter()
    outcome = run_job(job, compute=compute)
    wall = time.perf_counter() - t0
    return {"state": str(outcome.state), "wall_s": wall, "items": outcome.progress.items_succeeded}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--starts", type=int, default=3, help="warm starts measured")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "ferry-bench-ray"))
    args = parser.parse_args()
    os.environ["RAY_AUTH_MODE"] = "disabled"
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    work = Path(args.work)
    cache = Path(tempfile.mkdtemp(prefix="ray-cache-", dir=work.parent))
    os.environ["FERRY_RAY_CACHE"] = str(cache)  # the nodes inherit it: empty, so cold

    from ray.cluster_utils import Cluster

    from ferry.backends.ray import RayCompute

    log("starting a head and a worker node, one CPU each")
    t0 = time.perf_counter()
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    cluster_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ray_compute = RayCompute(cluster.address)
    connect_s = time.perf_counter() - t0
    results: dict[str, Any] = {
        "cluster_start_s": cluster_s,
        "driver_connect_s": connect_s,
        "load_average_at_start": os.getloadavg(),
    }
    try:
        code = code_folder(work)
        iters = calibrate()
        paths = make_items(work / "items", args.items)
        make_items(work / "small", 2)
        log(f"{len(paths)} items, {iters} iterations each (~1 ms)")

        starts: dict[str, list[float]] = {"ray": [], "local": []}
        for i in range(args.starts + 1):
            for name, compute in (("ray", ray_compute), ("local", LocalCompute())):
                job = job_folder(work / "jobs" / f"start-{name}-{i}", code, str(work / "small"),
                                 workers=2, mbs=1, iters=iters)  # fmt: skip
                starts[name].append(timed(job, compute)["wall_s"])
        results["start"] = {
            "ray_cold_s": starts["ray"][0],
            "ray_warm_s": statistics.median(starts["ray"][1:]),
            "local_s": statistics.median(starts["local"][1:]),
            "all": starts,
        }
        log(f"worker start: {json.dumps(results['start'])}")

        pairs, sums = [], []
        for i in range(args.pairs):
            order = (
                ["local", "ray", "ray", "local"] if i % 2 == 0 else ["ray", "local", "local", "ray"]
            )
            walls: dict[str, list[float]] = {"local": [], "ray": []}
            for j, name in enumerate(order):
                job = job_folder(work / "jobs" / f"tp-{i}-{j}-{name}", code, str(work / "items"),
                                 workers=2, mbs=100, iters=iters)  # fmt: skip
                run = timed(job, ray_compute if name == "ray" else LocalCompute())
                assert run["items"] == len(paths), run
                total = checksum(job / "named-outputs" / "score" / "predictions.csv")
                sums.append(total)
                walls[name].append(run["wall_s"])
                log(f"pair {i} {name}: {run['wall_s']:.2f} s")
            local, ray_ = statistics.mean(walls["local"]), statistics.mean(walls["ray"])
            pairs.append({"local_s": local, "ray_s": ray_, "ray_over_local": local / ray_})
        ratios = [p["ray_over_local"] for p in pairs]
        results["throughput"] = {
            "items": len(paths),
            "workers": 2,
            "mini_batch_size": 100,
            "local_items_per_s": len(paths) / statistics.median(p["local_s"] for p in pairs),
            "ray_items_per_s": len(paths) / statistics.median(p["ray_s"] for p in pairs),
            "ray_over_local_median": statistics.median(ratios),
            "pairs": pairs,
        }
        results["checksums_agree"] = len(set(sums)) == 1
    finally:
        import ray

        ray.shutdown()  # the driver first: Cluster refuses to remove the node it is connected to
        cluster.shutdown()
    print(json.dumps(results))
    out = HERE.parent / "results" / "ray-latest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
