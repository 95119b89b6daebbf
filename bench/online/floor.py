"""The floor: the scoring scripts' ``run()`` (and ``run_batch()``) called in this process.

No HTTP and no other process: the added latency of a server is its p50 minus this p50. The
torch MLP's ``run()`` against ``run_batch(32)`` shows what batching gives the script alone.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["BATCHING", "TORCH_THREADS", "TRIVIAL_BODY", "floors", "mlp_body"]

HERE = Path(__file__).resolve().parent
TRIVIAL_BODY = json.dumps({"data": list(range(16))}).encode()
BATCHING = {"max_batch_size": 32, "max_batch_wait_ms": 5}
TORCH_THREADS = 1  # per replica: 2 replicas x 1 intra-op thread on 2 cores


def mlp_body() -> bytes:
    rng = random.Random(0)
    return json.dumps({"data": [round(rng.uniform(-1, 1), 4) for _ in range(256)]}).encode()


def load_script(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def floor(call: Any, seconds: float) -> dict[str, Any]:
    """Latency of ``call()`` in this process: per-call timings for ``seconds``."""
    times: list[int] = []
    clock = time.perf_counter_ns
    deadline = clock() + int(seconds * 1e9)
    while True:
        t0 = clock()
        call()
        t1 = clock()
        times.append(t1 - t0)
        if t1 >= deadline:
            break
    times.sort()
    n = len(times)
    return {
        "calls": n,
        "rate": n / (sum(times) / 1e9),
        "p50_us": times[n // 2] / 1000,
        "p99_us": times[min(n - 1, int(n * 0.99))] / 1000,
        "load": list(os.getloadavg()),
    }


def floors(reps: int, seconds: float) -> dict[str, Any]:
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # torch, no numpy
    trivial = load_script(HERE / "trivial" / "score.py", "bench_trivial_score")
    trivial.init()
    raw = TRIVIAL_BODY.decode()
    os.environ.setdefault("BENCH_TORCH_THREADS", str(TORCH_THREADS))
    mlp = load_script(HERE / "mlp" / "score.py", "bench_mlp_score")
    mlp.init()
    body = mlp_body().decode()
    batch = [body] * BATCHING["max_batch_size"]
    out: dict[str, Any] = {"trivial_run": [], "mlp_run": [], "mlp_run_batch32": []}
    for _ in range(reps):
        out["trivial_run"].append(floor(lambda: trivial.run(raw), seconds))
        out["mlp_run"].append(floor(lambda: mlp.run(body), seconds))
        out["mlp_run_batch32"].append(floor(lambda: mlp.run_batch(batch), seconds))
    out["expected"] = {
        "trivial": trivial.run(raw),
        "mlp": mlp.run(body),
        "mlp_batch": mlp.run_batch(batch[:3]),
    }
    return out
