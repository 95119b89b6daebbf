"""Early worker start, A/B: a fresh job's workers start before its input is listed (A, what the
engine does) or after the plan is stored (B, as before; ``engine_probe.py --late-start``).

The case the early start is for: a large input and a slow ``init()``. Each job lists ``--files``
empty files (the 1M-file folder of ``run_bench.py``, reused), runs a trivial ``run()`` on
mini-batches of 1000 with 2 workers, and its ``init()`` takes ``--init-s`` seconds, sleeping (a
model read from disk or the network) or spinning (a model built on the CPU, which competes with
the planning for the 2 cores). A and B alternate, their order swapping each pair.

Usage (bench venv): ``bench/.venv/bin/python bench/batch/early_start.py [--pairs 3]``.
Prints a line per job and, per kind of ``init()``, the medians of job wall, planning and first
``run()`` (seconds after ``run_job`` was called) and of the per-pair wall ratio A/B. No assertions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from contenders import code_folder, job_folder, log, make_million, probe  # noqa: E402


def run_one(work: Path, code: Path, files: Path, kind: str, init_s: float, late: bool) -> Any:
    root = job_folder(
        work / "jobs" / f"{kind}-{'late' if late else 'early'}",
        code,
        str(files),
        workers=2,
        mbs=1000,
        iters=0,
        env={"BENCH_INIT_S": str(init_s), "BENCH_INIT_KIND": kind},
    )
    result = probe([str(HERE / "engine_probe.py"), str(root), *(["--late-start"] if late else [])])
    first = root / "times" / "first-run"
    if "error" not in result and first.is_file():
        result["first_run_s"] = float(first.read_text()) - result["t_start"]
    shutil.rmtree(root, ignore_errors=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--files-root", default="/tmp/ferry-bench-1m")
    parser.add_argument("--init-s", type=float, default=1.0)
    parser.add_argument("--kinds", default="sleep,spin", help="comma-separated: sleep, spin")
    parser.add_argument("--work", default="/tmp/ferry-bench-early-start")
    args = parser.parse_args()
    work = Path(args.work)
    code = code_folder(work)
    files = make_million(Path(args.files_root), args.files)
    # A cold directory cache makes the first listing several times slower (seen: 1.6 s against
    # 0.6 s), and the first job of the first pair would pay for it: list everything once first.
    listed = sum(len(names) for _, _, names in os.walk(files))
    log(f"{listed:,} files listed once to warm the directory cache")
    for kind in args.kinds.split(","):
        runs: dict[str, list[Any]] = {"early": [], "late": []}
        for i in range(args.pairs):
            order = ("early", "late") if i % 2 == 0 else ("late", "early")
            for label in order:
                r = run_one(work, code, files, kind, args.init_s, late=label == "late")
                if "error" in r or r["state"] != "Completed":
                    log(f"{kind} {label}: {r.get('error') or r['message']}")
                    return 1
                runs[label].append(r)
                log(
                    f"{kind} pair {i + 1} {label}: wall {r['wall_s']:.2f} s, plan "
                    f"{r['plan_s']:.2f} s, first run() {r['first_run_s']:.2f} s, load "
                    f"{r['load'][0]:.1f}"
                )

        def med(label: str, key: str) -> float:
            return statistics.median(r[key] for r in runs[label])  # noqa: B023

        pairs = zip(runs["early"], runs["late"], strict=True)
        ratios = [early["wall_s"] / late["wall_s"] for early, late in pairs]
        log(
            f"{kind} init() of {args.init_s:g} s, {args.files:,} files, medians of {args.pairs}: "
            f"early wall {med('early', 'wall_s'):.2f} s (plan {med('early', 'plan_s'):.2f}, "
            f"first run() {med('early', 'first_run_s'):.2f}); late wall "
            f"{med('late', 'wall_s'):.2f} s (plan {med('late', 'plan_s'):.2f}, first run() "
            f"{med('late', 'first_run_s'):.2f}); wall early/late per pair "
            f"{statistics.median(ratios):.3f} ({', '.join(f'{x:.3f}' for x in ratios)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
