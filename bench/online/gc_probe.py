"""Does the gateway's garbage collector make the tail? Ferry's server twice, GC watched.

Two fresh Ferry servers run ``gc_server.py`` (the server as shipped plus a ``gc.callbacks``
watcher): one as shipped, one where the probe also calls ``gc.collect(); gc.freeze()`` once it
answers, before anything is deployed (SIGUSR2). Both get the same three deployments as the main
run and the same load at the highest concurrency; per measurement the probe reports the pauses
of full (generation 2) collections, the collector's total time, and how many objects the server
had frozen (Ferry freezes its own since 188aac4, so there the two variants should agree). The
signals are handled when the server next runs Python code, so each is followed by a health
request. Nothing in src/ferry changes.
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import loadgen
import servers

__all__ = ["run_gc_probe"]


def _signal(ferry: servers.FerryServer, signum: int) -> None:
    """Send ``signum``; a request makes an idle event loop run the Python-level handler."""
    os.kill(ferry.pid, signum)
    httpx.get(ferry.client.server_url + "/api/v1/health", timeout=10)


def _totals(ferry: servers.FerryServer, log: Path, timeout: float = 5.0) -> list[float]:
    """The collector's totals: [count0, ms0, count1, ms1, count2, ms2, frozen objects]."""
    asked = time.time()
    _signal(ferry, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in reversed(log.read_text().splitlines()):
            if line.startswith("T "):
                fields = line.split()
                if float(fields[1]) >= asked:
                    return [float(x) for x in fields[2:]]
                break
        time.sleep(0.02)
        httpx.get(ferry.client.server_url + "/api/v1/health", timeout=10)
    raise RuntimeError(f"the watched server did not report its GC totals in {log}")


def _full_pauses(log: Path, since: float, until: float) -> list[float]:
    pauses = []
    for line in log.read_text().splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] == "gen2" and since <= float(fields[0]) <= until:
            pauses.append(float(fields[2]))
    return pauses


def _variant(
    work: Path,
    freeze: bool,
    plan: list[tuple[str, int]],
    bodies: dict[str, bytes],
    reps: int,
    seconds: int,
    client: str,
    log: Callable[[str], None],
) -> dict[str, Any]:
    label = "frozen" if freeze else "shipped"
    gc_log = work / f"gc-{label}.log"
    gc_log.write_text("")
    ferry = servers.FerryServer(work / f"ws-gc-{label}", watched_gc_log=gc_log)
    try:
        frozen_at_start = _totals(ferry, gc_log)[6]
        if freeze:
            _signal(ferry, signal.SIGUSR2)
            _totals(ferry, gc_log)  # answered after the freeze: it ran first
        targets = servers.deploy_all(ferry)
        for key, _ in plan:
            target = targets[key]
            loadgen.run_load(target.url, bodies[key], target.headers, 16, 1, client)
        runs: dict[str, list[dict[str, Any]]] = {}
        for rep in range(reps):
            for key, conns in plan:
                target = targets[key]
                before = _totals(ferry, gc_log)
                t0 = time.time()
                result = loadgen.run_load(
                    target.url, bodies[key], target.headers, conns, seconds, client
                )
                t1 = time.time()
                after = _totals(ferry, gc_log)
                pauses = _full_pauses(gc_log, t0, t1)
                gc_ms = sum(after[i] - before[i] for i in (1, 3, 5))
                entry = {
                    "rps": result["rps"],
                    "p50_us": result["p50_us"],
                    "p99_us": result["p99_us"],
                    "max_us": result["max_us"],
                    "non_2xx": result["non_2xx"],
                    "full_collections": len(pauses),
                    "full_pause_max_ms": max(pauses, default=0.0),
                    "collections": sum(after[i] - before[i] for i in (0, 2, 4)),
                    "gc_share": gc_ms / 1000 / result["wall_s"],
                    "load": result["load"],
                }
                runs.setdefault(key, []).append(entry)
                log(
                    f"gc {label:>6} round {rep + 1} {key:>11} c={conns}: "
                    f"{entry['rps']:6.0f} req/s p99 {entry['p99_us'] / 1000:6.2f} ms, "
                    f"{len(pauses)} full collections (max {entry['full_pause_max_ms']:.1f} ms), "
                    f"GC {entry['gc_share'] * 100:.1f}% of the time"
                )
        frozen = [line for line in gc_log.read_text().splitlines() if line.startswith("# froze")]
    finally:
        ferry.stop()
    return {
        "runs": runs,
        "frozen_by_server": frozen_at_start,
        "frozen_by_probe": frozen[0][2:] if frozen else None,
    }


def run_gc_probe(
    work: Path,
    plan: list[tuple[str, int]],
    bodies: dict[str, bytes],
    reps: int,
    seconds: int,
    client: str,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Both variants; per variant and endpoint the runs and their medians."""
    out: dict[str, Any] = {"plan": plan}
    for freeze in (False, True):
        variant = _variant(work, freeze, plan, bodies, reps, seconds, client, log)
        medians = {}
        for key, runs in variant["runs"].items():
            medians[key] = {
                field: statistics.median(r[field] for r in runs)
                for field in ("rps", "p50_us", "p99_us", "full_collections", "gc_share")
            }
            medians[key]["full_pause_max_ms"] = max(r["full_pause_max_ms"] for r in runs)
        out["frozen" if freeze else "shipped"] = {**variant, "median": medians}
    return out
