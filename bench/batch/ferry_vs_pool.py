"""Ferry's engine (2 workers) against ``multiprocessing.Pool(2)``, each Ferry run bracketed by two
Pool runs, many times: what Ferry costs over the bare standard library on the same 2 cores.

Usage (bench venv): ``bench/.venv/bin/python bench/batch/ferry_vs_pool.py [--runs 16]``.
Prints one line per run (rates, Ferry's head/tail/idle split, cores used, CPU per item) and the
median and mean of Ferry / mean(Pool before, Pool after). No assertions; see README.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import driver  # noqa: E402
from contenders import code_folder, log, make_items, run_engine, run_pool  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=16)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--mini-batch-size", type=int, default=100)
    parser.add_argument("--work", default="/tmp/ferry-bench-vs-pool")
    args = parser.parse_args()
    work = Path(args.work)
    code = code_folder(work)
    data = work / f"items-{args.items}"
    paths = make_items(data, args.items)
    iters = sorted(driver.calibrate() for _ in range(3))[1]
    n, mbs = args.items, args.mini_batch_size
    ratios = []
    for i in range(args.runs):
        before = run_pool(paths, iters, mbs)
        ferry = run_engine(work, "job", code, str(data), n, workers=2, mbs=mbs, iters=iters)
        after = run_pool(paths, iters, mbs)
        pool_rate = (before["rate"] + after["rate"]) / 2
        ratios.append(ferry["rate"] / pool_rate)
        tl = ferry["timeline"]
        pool_cpu = (before["cpu_s"] + after["cpu_s"]) / 2
        log(
            f"run {i + 1}: Ferry {ferry['rate']:.0f}/s, Pool(2) {before['rate']:.0f} and "
            f"{after['rate']:.0f}/s, ratio {ratios[-1]:.3f}; Ferry head {tl['head_s'] * 1e3:.0f} "
            f"ms, tail {tl['tail_s'] * 1e3:.0f} ms, idle between run()s "
            f"{tl['gap_worker_s'] * 1e3:.0f} worker-ms, at the end "
            f"{tl['early_end_worker_s'] * 1e3:.0f}; cores used Ferry "
            f"{(ferry['workers_cpu_s'] + ferry['engine_cpu_s']) / ferry['wall_s']:.2f}, Pool "
            f"{pool_cpu / ((before['wall_s'] + after['wall_s']) / 2):.2f}; CPU per item Ferry "
            f"workers {ferry['workers_cpu_s'] / n * 1e3:.3f} ms, Pool {pool_cpu / n * 1e3:.3f} ms"
        )
    se = statistics.stdev(ratios) / len(ratios) ** 0.5 if len(ratios) > 1 else 0.0
    log(
        f"Ferry-2w / Pool(2) over {len(ratios)} bracketed runs: median "
        f"{statistics.median(ratios):.3f}, mean {statistics.fmean(ratios):.3f} +- {se:.3f} (s.e.)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
