"""``Pool(2)`` on the bench's files, each worker in a session of its own; prints one JSON line.

Usage: ``python pool_probe.py ITEMS_FOLDER ITERS CHUNK``. With the kernel's autogroup scheduling
(``/proc/sys/kernel/sched_autogroup_enabled``), CPU time is shared between sessions first, and
Ferry starts each worker in a session of its own (``backends/local.py``). On a busy machine two
Pool workers sharing one session would get half of what Ferry's two get, which flatters Ferry; so
each Pool worker calls ``setsid()`` too. On an idle machine this changes nothing.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "batch"))

import driver


def _score_chunk(paths: list[str], iters: int) -> int:
    return sum(driver.score_file(p, iters) for p in paths)


def main() -> int:
    folder, iters, chunk = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    paths = sorted(str(p) for p in folder.glob("item-*.bin"))
    chunks = [paths[i : i + chunk] for i in range(0, len(paths), chunk)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    pool = multiprocessing.get_context("fork").Pool(2, initializer=os.setsid)
    try:
        sum(pool.imap_unordered(functools.partial(_score_chunk, iters=iters), chunks))
        wall = time.perf_counter() - t0
    finally:
        pool.close()
        pool.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    rate = len(paths) / wall
    print(json.dumps({"items": len(paths), "wall_s": wall, "cpu_s": cpu, "rate": rate}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
