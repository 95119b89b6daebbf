"""The same scoring loop in a fork of this (long-running) process against fresh interpreters: why
Ferry's workers, which must be fresh interpreters of the deployment's environment, spend a little
more CPU per item than ``Pool(2)``'s forked children and the in-process loop (README findings).

Usage (bench venv): ``bench/.venv/bin/python bench/batch/fresh_vs_fork.py [--reps 8]``.
Each rep measures, in turn: ``fork`` (a child forked from this process after it has run the loop),
``fresh`` (``python -c``), ``fresh-warm`` (a fresh interpreter that scores 150 items before it
measures), ``fork-of-fresh`` (a child forked from a fresh interpreter), ``in-process`` (this
process), then two at once, as in a 2-worker job: ``fork x2`` (``Pool(2)``'s case) and ``fresh x2``
(Ferry's). Prints CPU ms per item (``time.process_time`` around the loop only, so interpreter
start-up is not counted), per rep and the median. No assertions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import driver  # noqa: E402
from contenders import make_items  # noqa: E402

# The measured loop, for the fresh interpreters: sys.argv = [-c, folder, iters, count, mode].
_CHILD = """
import os, sys, time
sys.path.insert(0, {here!r})
import driver
folder, iters, count, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
paths = sorted(os.path.join(folder, name) for name in os.listdir(folder))[:count]
def measure():
    t = time.process_time()
    for p in paths:
        driver.score_file(p, iters)
    return (time.process_time() - t) / len(paths) * 1e3
if mode == "warm":
    for p in paths[:150]:
        driver.score_file(p, iters)
if mode == "fork":
    r, w = os.pipe()
    if os.fork() == 0:
        os.write(w, repr(measure()).encode())
        os._exit(0)
    os.close(w)
    os.wait()
    print(os.read(r, 64).decode())
else:
    print(measure())
"""


def measure(paths: list[str], iters: int) -> float:
    t = time.process_time()
    for p in paths:
        driver.score_file(p, iters)
    return (time.process_time() - t) / len(paths) * 1e3


def in_forks(paths: list[str], iters: int, n: int) -> list[float]:
    """``n`` children forked from this process, scoring at the same time."""
    pipes = []
    for _ in range(n):
        r, w = os.pipe()
        if os.fork() == 0:
            os.write(w, repr(measure(paths, iters)).encode())
            os._exit(0)
        os.close(w)
        pipes.append(r)
    for _ in range(n):
        os.wait()
    values = [float(os.read(r, 64)) for r in pipes]
    for r in pipes:
        os.close(r)
    return values


def fresh(folder: Path, iters: int, count: int, mode: str, n: int = 1) -> list[float]:
    """``n`` fresh interpreters, scoring at the same time."""
    code = _CHILD.format(here=str(HERE))
    argv = [sys.executable, "-c", code, str(folder), str(iters), str(count), mode]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(n)]
    return [float(proc.communicate()[0]) for proc in procs]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reps", type=int, default=8)
    parser.add_argument("--items", type=int, default=1500)
    parser.add_argument("--work", default="/tmp/ferry-bench-fresh-vs-fork")
    args = parser.parse_args()
    folder = Path(args.work) / f"items-{args.items}"
    paths = sorted(make_items(folder, args.items))
    iters = sorted(driver.calibrate() for _ in range(3))[1]
    measure(paths[:150], iters)  # the fork children inherit a process that ran the loop
    contenders = {
        "fork": lambda: in_forks(paths, iters, 1),
        "fresh": lambda: fresh(folder, iters, args.items, "plain"),
        "fresh-warm": lambda: fresh(folder, iters, args.items, "warm"),
        "fork-of-fresh": lambda: fresh(folder, iters, args.items, "fork"),
        "in-process": lambda: [measure(paths, iters)],
        "fork x2": lambda: in_forks(paths, iters, 2),
        "fresh x2": lambda: fresh(folder, iters, args.items, "plain", 2),
    }
    results: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.reps):
        for name, run in contenders.items():
            results[name] += run()
    print(f"CPU ms per item, {args.items} items of {iters} steps, {args.reps} reps each:")
    for name, values in results.items():
        each = " ".join(f"{v:.3f}" for v in values)
        print(f"{name:>14}: median {statistics.median(values):.3f}  ({each})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
