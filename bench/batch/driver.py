"""The bench's scoring function and an Azure-style batch driver around it.

``score_file`` is the one unit of work every contender runs: read a small file, then spin a
deterministic integer loop calibrated to about 1 ms on this machine (pure Python, so it holds the
GIL and scales only with processes). The in-process loop and the Ray Data UDF import it from here;
Ferry runs this file as the deployment's scoring script (``init()`` / ``run(mini_batch)``).

Environment variables the driver reads:

* ``BENCH_ITERS``: loop iterations per item (from :func:`calibrate`); 0 makes ``run`` trivial and
  return only the file name (the 1M-file planning test);
* ``BENCH_TIMES_DIR``: when set, each ``run()`` appends ``start end items`` (``time.time()``) to
  ``<dir>/<pid>.txt``, so the bench can measure the steady-state window;
* ``BENCH_INIT_S`` and ``BENCH_INIT_KIND``: make ``init()`` take that many seconds, sleeping
  (``sleep``, the default: a model read from disk or the network) or spinning (``spin``: a model
  built on the CPU), for the early-start A/B (``early_start.py``);
* ``BENCH_FIRST_RUN_FILE``: when set, the first ``run()`` of the job writes ``time.time()`` there
  (created exclusively, so only the first worker to get there wins): the start-up measurement;
  each ``init()`` also writes its own ``time.time()`` to ``<that path>.init-<pid>``, which splits
  the start-up into "worker started and imported" and "first mini-batch handed over".
"""

from __future__ import annotations

import os
import time

_MASK = 0x7FFFFFFF


def spin(seed: int, iters: int) -> int:
    """A linear congruential walk: deterministic, allocation-free, about 30 ns per step."""
    h = seed & _MASK
    for _ in range(iters):
        h = (h * 1103515245 + 12345) & _MASK
    return h


def score_file(path: str, iters: int) -> int:
    """Read ``path`` and return its deterministic score."""
    with open(path, "rb") as f:  # noqa: PTH123 (Azure-style user code)
        data = f.read()
    return spin(int.from_bytes(data[:8] or b"\0", "little"), iters)


def calibrate(target_s: float = 0.001, rounds: int = 7) -> int:
    """Iterations of :func:`spin` that take ``target_s`` seconds here (median of ``rounds``)."""
    probe = 20_000
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        spin(1, probe)
        samples.append(time.perf_counter() - t0)
    samples.sort()
    return max(1, round(probe * target_s / samples[len(samples) // 2]))


_iters = 0
_times: str | None = None
_first: str | None = None


def _slow_init(seconds: float, kind: str | None) -> None:
    if kind == "spin":
        end = time.process_time() + seconds
        while time.process_time() < end:
            spin(1, 1000)
    elif seconds > 0:
        time.sleep(seconds)


def init() -> None:
    global _iters, _times, _first
    _iters = int(os.environ.get("BENCH_ITERS", "0"))
    folder = os.environ.get("BENCH_TIMES_DIR")
    _times = os.path.join(folder, f"{os.getpid()}.txt") if folder else None  # noqa: PTH118
    _first = os.environ.get("BENCH_FIRST_RUN_FILE") or None
    _slow_init(float(os.environ.get("BENCH_INIT_S", "0")), os.environ.get("BENCH_INIT_KIND"))
    if _first is not None:
        with open(f"{_first}.init-{os.getpid()}", "w") as f:  # noqa: PTH123
            f.write(repr(time.time()))


def run(mini_batch: list[str]) -> list[str]:
    global _first
    start = time.time()
    if _first is not None:
        try:
            fd = os.open(_first, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            pass
        else:
            os.write(fd, repr(start).encode())
            os.close(fd)
        _first = None
    if _iters:
        rows = [f"{os.path.basename(p)} {score_file(p, _iters)}" for p in mini_batch]  # noqa: PTH119
    else:
        rows = [os.path.basename(p) for p in mini_batch]  # noqa: PTH119
    if _times is not None:
        with open(_times, "a") as f:  # noqa: PTH123
            f.write(f"{start!r} {time.time()!r} {len(mini_batch)}\n")
    return rows
