"""One Ray Data run of the bench workload in this fresh process; prints one JSON object.

Usage: ``python ray_probe.py FILE_LIST ITERS BATCH_SIZE``. ``FILE_LIST`` holds one input path per
line. Times, all ``time.perf_counter`` deltas except the UDF's own stamps:

* ``init_s``: ``ray.init()`` (one local cluster, 2 CPUs, no dashboard);
* ``map_wall_s``: building the dataset and running ``map_batches`` to the last row
  (actor start-up included);
* ``steady_s``: first batch start to last batch end inside the actors (``time.time()`` stamps the
  UDF returns with each batch): the steady-state map time;
* ``e2e_s``: from before ``ray.init()`` to the last row, shutdown excluded.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import numpy as np
import ray

sys.path.insert(0, str(Path(__file__).parent))
from driver import score_file


class Scorer:
    """The actor UDF: the same ``score_file`` as every other contender."""

    def __init__(self, iters: int) -> None:
        self.iters = iters

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        start = time.time()
        paths = [str(p) for p in batch["path"]]
        scores = [score_file(p, self.iters) for p in paths]
        end = time.time()
        n = len(paths)
        return {
            "name": np.array([os.path.basename(p) for p in paths]),  # noqa: PTH119
            "score": np.array(scores, dtype=np.int64),
            "t0": np.full(n, start),
            "t1": np.full(n, end),
        }


def main() -> int:
    listing, iters, batch_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    paths = Path(listing).read_text().splitlines()
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    t_init = time.perf_counter()
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ds = ray.data.from_items([{"path": p} for p in paths])
    out = ds.map_batches(
        Scorer,
        fn_constructor_kwargs={"iters": iters},
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=2),
        num_cpus=1,
    )
    names: list[str] = []
    scores: list[int] = []
    starts: list[float] = []
    ends: list[float] = []
    for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
        names.extend(str(n) for n in batch["name"])
        scores.extend(int(s) for s in batch["score"])
        starts.append(float(batch["t0"].min()))
        ends.append(float(batch["t1"].max()))
    t_done = time.perf_counter()
    ray.shutdown()
    result = {
        "items": len(names),
        "checksum": sum(scores) % (1 << 61),
        "init_s": t_init - t0,
        "map_wall_s": t_done - t_init,
        "steady_s": max(ends) - min(starts),
        "e2e_s": t_done - t0,
        "shutdown_s": time.perf_counter() - t_done,
        "ray": ray.__version__,
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
