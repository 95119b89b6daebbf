"""Ferry's server (``python -m ferry.server``) with its garbage collector watched.

Started by ``gc_probe.py`` in place of the SDK's auto-start; the server runs unchanged in this
process. ``BENCH_GC_LOG`` gets one line per collection of the oldest generation (wall time,
generation, pause in ms), and per younger collection that took over 1 ms; SIGUSR1 writes the
totals so far (``T <time>``, ``<count> <ms>`` per generation, then how many objects are
frozen). SIGUSR2 calls ``gc.collect();
gc.freeze()``: what is alive then (the app, the store, the imported modules) leaves the
collector's reach, as a server would do at the end of its start-up.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

# Open for the life of the process: the callbacks write to it until the server exits.
_LOG = Path(os.environ["BENCH_GC_LOG"]).open("a", buffering=1)  # noqa: SIM115
_STARTED = [0.0]
_COUNT = [0, 0, 0]
_MS = [0.0, 0.0, 0.0]


def _watch(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _STARTED[0] = time.perf_counter()
        return
    pause = (time.perf_counter() - _STARTED[0]) * 1000
    generation = info["generation"]
    _COUNT[generation] += 1
    _MS[generation] += pause
    if generation == 2 or pause > 1:
        _LOG.write(f"{time.time():.4f} gen{generation} {pause:.3f}\n")


def _totals(signum: int, frame: FrameType | None) -> None:
    pairs = " ".join(f"{c} {ms:.3f}" for c, ms in zip(_COUNT, _MS, strict=True))
    _LOG.write(f"T {time.time():.4f} {pairs} {gc.get_freeze_count()}\n")


def _freeze(signum: int, frame: FrameType | None) -> None:
    gc.collect()
    gc.freeze()
    _LOG.write(f"# froze {gc.get_freeze_count()} objects\n")


def main() -> int:
    gc.callbacks.append(_watch)
    signal.signal(signal.SIGUSR1, _totals)
    signal.signal(signal.SIGUSR2, _freeze)
    from ferry.server.__main__ import main as serve

    return serve()


if __name__ == "__main__":
    sys.exit(main())
