"""Run one Ferry batch job folder on the engine in this fresh process and print what it cost.

Usage: ``python engine_probe.py JOB_DIR [--profile OUT.pstats] [--late-start]``. Prints one JSON
object: state, wall seconds, planning seconds (``run_job`` called -> first progress callback,
which the engine publishes once the plan is stored and the journal replayed), and the peak RSS of
this process (the engine) and of its largest worker. A separate process keeps the peak RSS the job's
own, not the bench's.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from ferry.backends.local import LocalCompute
from ferry.batch.engine import Progress, run_job


def _vmhwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("job_dir")
    parser.add_argument("--profile", help="write a cProfile of run_job here")
    parser.add_argument(
        "--late-start",
        action="store_true",
        help="start the workers after the plan, as before the early start (early_start.py's B)",
    )
    args = parser.parse_args()
    if args.late_start:
        # The engine has no switch for this (nothing but an A/B needs one), so the bench
        # replaces the one method that makes the early crew; the dispatcher then starts them.
        from ferry.batch import engine

        engine._Session._early_crew = lambda self: None  # type: ignore[method-assign]
    first: list[float] = []

    def on_progress(progress: Progress) -> None:
        if not first:
            first.append(time.perf_counter())

    profiler = cProfile.Profile() if args.profile else None
    before = resource.getrusage(resource.RUSAGE_SELF)
    t_start = time.time()
    t0 = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    outcome = run_job(args.job_dir, compute=LocalCompute(), on_progress=on_progress)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    wall = time.perf_counter() - t0
    t_end = time.time()
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result: dict[str, Any] = {
        "state": outcome.state,
        "message": outcome.message,
        "items_succeeded": outcome.progress.items_succeeded,
        "wall_s": wall,
        "plan_s": (first[0] - t0) if first else None,
        "t_start": t_start,
        "t_end": t_end,
        "engine_peak_rss_mb": _vmhwm_kb() / 1024,
        "engine_cpu_s": _cpu(own) - _cpu(before),
        "worker_peak_rss_mb": children.ru_maxrss / 1024,
        "workers_cpu_s": _cpu(children),
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0 if outcome.state == "Completed" else 1


if __name__ == "__main__":
    sys.exit(main())
