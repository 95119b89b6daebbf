"""What the job page's server-side pieces cost for a job of N items (default 100,000).

Builds a job folder as the engine leaves it (manifest.csv with 5 % failed rows, a journal of
N/10 mini-batches on 8 workers, predictions.csv, N PNG outputs, a 50 MB log) and times, median
of 5 runs after a first (cold) one:
* one page of the failed-items table (first and last page: one pass over the manifest);
* folding the whole journal into the worker table (the page's first render);
* one page of predictions.csv as a table (first page, and a page near the end);
* listing the image outputs for one gallery page;
* where the log viewer opens a 50 MB log (tail offset and its line number).

Usage: python bench/studio/job_page.py [N]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ferry.studio.csv_pages import read_csv_page
from ferry.studio.job_views import failed_items, worker_slots
from ferry.studio.pages.jobs_logs import tail_start
from ferry.studio.pages.jobs_outputs import images

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8ffff3f0005fe02fea7d6a5e60000000049454e44ae426082"
)


def build(root: Path, n: int) -> None:
    outputs = root / "named-outputs" / "score"
    outputs.mkdir(parents=True)
    (root / "logs").mkdir()
    (root / "state").mkdir()
    with (root / "manifest.csv").open("w") as manifest:
        manifest.write("file,status,mini_batch,attempts,error,seconds\n")
        for i in range(n):
            failed = i % 20 == 0
            status, error = ("failed", "ValueError: bad pixel") if failed else ("succeeded", "")
            manifest.write(f"in/img-{i:06d}.png,{status},{i // 10},1,{error},0.01\n")
    with (outputs / "predictions.csv").open("w") as predictions:
        predictions.writelines(f"img-{i:06d}.png {i % 10}\n" for i in range(n))
    for i in range(n):
        (outputs / f"img-{i:06d}.png").write_bytes(PNG)
    with (root / "state" / "journal.jsonl").open("w") as journal:
        for w in range(8):
            journal.write(json.dumps({"ev": "worker", "w": f"process{w:03d}", "state": "started"}))
            journal.write("\n")
        for mb in range(n // 10):
            worker = f"process{mb % 8:03d}"
            journal.write(json.dumps({"ev": "start", "mb": mb, "try": 1, "w": worker}) + "\n")
            journal.write(json.dumps({"ev": "ok", "mb": mb, "try": 1, "w": worker, "n": 10}))
            journal.write("\n")
    with (root / "logs" / "big.txt").open("w") as log:
        line = "2026-12-04T16:00:00Z INFO scored a mini-batch of 10 items in 12 ms\n"
        log.write(line * (50 * 1024 * 1024 // len(line)))


def timed(label: str, call: Callable[[], object], runs: int = 5) -> None:
    """The first call (cold: nothing cached) and the median of the next ones."""
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    first, rest = times[0] * 1000, statistics.median(times[1:]) * 1000
    print(f"{label:<40} first {first:8.1f} ms   then {rest:8.1f} ms")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "job"
        start = time.perf_counter()
        build(root, n)
        print(f"built a job folder of {n} items in {time.perf_counter() - start:.1f} s")
        manifest = root / "manifest.csv"
        failed = n // 20
        timed("failed items, first page", lambda: failed_items(manifest, 0))
        timed("failed items, last page", lambda: failed_items(manifest, failed - 50))

        journal = root / "state" / "journal.jsonl"
        timed("worker table (the whole journal)", lambda: worker_slots(journal))
        predictions = root / "named-outputs" / "score" / "predictions.csv"
        timed("predictions.csv, first page", lambda: read_csv_page(predictions, 0))
        timed("predictions.csv, page at the end", lambda: read_csv_page(predictions, n - 100))
        timed("gallery: list the image outputs", lambda: images(root / "named-outputs"))
        timed("log viewer: tail of a 50 MB log", lambda: tail_start(root / "logs" / "big.txt"))


if __name__ == "__main__":
    main()
