"""The contenders of the batch bench and the probes that run them (see ``run_bench.py``).

Each ``run_*`` returns one measurement as a dict: its rate, wall and CPU seconds, the scores'
checksum and the load average when it started; a failed probe returns ``{"error": ...}``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import driver

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

MOD = 1 << 61  # checksums of the scores, compared across contenders


_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f} s] {message}", file=sys.stderr, flush=True)


# -- inputs ------------------------------------------------------------------------------------
def code_folder(work: Path) -> Path:
    """``work/code`` holding a copy of ``driver.py``: the deployment's code folder."""
    code = work / "code"
    code.mkdir(parents=True, exist_ok=True)
    shutil.copy2(HERE / "driver.py", code / "driver.py")
    return code


def make_items(folder: Path, count: int) -> list[str]:
    """``count`` files of 8 bytes (their index), created once (a marker file next to the folder
    says it is complete; inside, it would be scored too)."""
    marker = folder.parent / f".{folder.name}.complete"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for i in range(count):
            (folder / f"item-{i:06d}.bin").write_bytes(i.to_bytes(8, "little"))
        marker.write_text("ok")
    return sorted(str(p) for p in folder.glob("item-*.bin"))


def make_million(root: Path, count: int) -> Path:
    """``count`` empty files, 1000 per folder, under ``root/files``; reused when the marker is
    there (creating 1M files takes about a minute)."""
    files = root / "files"
    marker = root / f".complete-{count}"
    if marker.exists():
        return files
    log(f"creating {count:,} empty files under {files} (once)")
    shutil.rmtree(files, ignore_errors=True)
    for d in range((count + 999) // 1000):
        sub = files / f"d{d:03d}"
        sub.mkdir(parents=True)
        for f in range(min(1000, count - d * 1000)):
            os.close(os.open(sub / f"f{f:03d}.bin", os.O_WRONLY | os.O_CREAT, 0o644))
    marker.write_text("ok")
    return files


# -- probes ------------------------------------------------------------------------------------
def probe(argv: list[str], timeout: float = 900) -> dict[str, Any]:
    """Run a probe script in a fresh process and parse the JSON line it prints."""
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    load = os.getloadavg()
    proc = subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, env=env, timeout=timeout
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = "\n".join(proc.stderr.splitlines()[-15:])
        log(f"probe {Path(argv[0]).name} failed ({proc.returncode}):\n{tail}")
        return {"error": f"exit {proc.returncode}: {tail}", "load": list(load)}
    result: dict[str, Any] = json.loads(lines[-1])
    result["load"] = list(load)
    return result


def job_folder(
    root: Path,
    code: Path,
    data: str,
    workers: int,
    mbs: int,
    iters: int,
    env: dict[str, str] | None = None,
) -> Path:
    """A job folder for the engine: ``driver.py`` from ``code`` over ``data``; ``env`` adds
    environment variables (``BENCH_INIT_S``, say)."""
    from ferry.batch.definition import JobDefinition

    shutil.rmtree(root, ignore_errors=True)
    (root / "times").mkdir(parents=True)
    JobDefinition(
        name=root.name,
        inputs=[data],
        input_type="uri_folder",
        python=sys.executable,
        entry_script=str(code / "driver.py"),
        code_dir=str(code),
        model_dir=None,
        mini_batch_size=mbs,
        max_concurrency_per_instance=workers,
        timeout=300.0,
        environment_variables={
            "BENCH_ITERS": str(iters),
            "BENCH_TIMES_DIR": str(root / "times"),
            "BENCH_FIRST_RUN_FILE": str(root / "times" / "first-run"),
            **(env or {}),
        },
    ).save(root / "job.json")
    return root


def checksum(predictions: Path) -> int | None:
    if not predictions.is_file():
        return None
    total = 0
    with predictions.open() as f:
        for line in f:
            total += int(line.rsplit(" ", 1)[1])
    return total % MOD


def timeline(times: Path, t_start: float, t_end: float) -> dict[str, Any]:
    """Split a job's wall time using the driver's per-``run()`` stamps (see ``driver.py``)."""
    workers = [
        [tuple(float(x) for x in line.split()) for line in p.read_text().splitlines()]
        for p in sorted(times.glob("[0-9]*.txt"))
    ]
    workers = [w for w in workers if w]
    if not workers:
        return {}
    first = min(w[0][0] for w in workers)
    last = max(w[-1][1] for w in workers)
    busy = sum(e - s for w in workers for s, e, _ in w)
    late_start = sum(w[0][0] - first for w in workers)
    early_end = sum(last - w[-1][1] for w in workers)
    window = last - first
    inits = [float(p.read_text()) for p in times.glob("first-run.init-*")]
    return {
        # after t_start: the first worker's init() ran (spawn + imports + script load) ...
        "first_init_s": (min(inits) - t_start) if inits else None,
        "workers_seen": len(workers),
        "head_s": first - t_start,  # planning, worker start, init(), first hand-over
        "steady_s": window,
        "tail_s": t_end - last,  # assembling the output, reports, worker shutdown
        "busy_worker_s": busy,
        "late_start_worker_s": late_start,
        "early_end_worker_s": early_end,  # imbalance: a worker idle while the last batch runs
        "gap_worker_s": window * len(workers) - busy - late_start - early_end,
        "mini_batches": sum(len(w) for w in workers),
    }


def run_engine(work: Path, label: str, code: Path, data: str, items: int, **kw: Any) -> Any:
    root = job_folder(work / "jobs" / label, code, data, **kw)
    result = probe([str(HERE / "engine_probe.py"), str(root)])
    if "error" not in result:
        result["items"] = items
        result["rate"] = items / result["wall_s"]
        if kw["iters"]:  # with iters=0 the driver returns file names, no scores
            result["checksum"] = checksum(root / "named-outputs" / "score" / "predictions.csv")
        result["timeline"] = timeline(root / "times", result["t_start"], result["t_end"])
        steady = result["timeline"].get("steady_s")
        result["steady_rate"] = items / steady if steady else None
    return result


def run_inprocess(paths: list[str], iters: int) -> dict[str, Any]:
    load = os.getloadavg()
    c0, t0 = time.process_time(), time.perf_counter()
    total = sum(driver.score_file(p, iters) for p in paths)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "items": len(paths),
        "wall_s": wall,
        "cpu_s": cpu,
        "rate": len(paths) / wall,
        "checksum": total % MOD,
        "load": list(load),
    }


def run_server(
    work: Path, label: str, code: Path, data: str, items: int, iters: int, mbs: int
) -> dict[str, Any]:
    """One 2-worker job through the full server path, in a fresh workspace and server (the
    server's start and the deployment are not timed)."""
    cfg = {
        "workspace": str(work / "ws" / label),
        "workdir": str(work),
        "code": str(code),
        "env": {"BENCH_ITERS": str(iters)},
        "workers": 2,
        "mini_batch_size": mbs,
        "throughput": {"data": data, "reps": 1, "times_root": str(work / "jobs" / label)},
    }
    server = probe([str(HERE / "server_probe.py"), json.dumps(cfg)])
    if "error" in server or not server.get("throughput"):
        return {"error": server.get("error", "no run"), "load": server.get("load")}
    run: dict[str, Any] = server["throughput"][0]
    run["server_start_s"] = server.get("server_start_s")
    if run["state"] != "Completed":
        return {**run, "error": f"{run['state']}: {run.get('error')}"}
    del run["error"]
    run["items"] = items
    run["rate"] = items / run["total_s"]
    folder = Path(cfg["workspace"]) / "blobstore" / "azureml" / run["job"]
    run["checksum"] = checksum(folder / "named-outputs" / "score" / "predictions.csv")
    run["timeline"] = timeline(Path(run["times_dir"]), run["t_invoke"], run["t_done"])
    shutil.rmtree(cfg["workspace"], ignore_errors=True)
    return run


def _score_chunk(paths: list[str], iters: int) -> int:
    return sum(driver.score_file(p, iters) for p in paths)


def run_pool(paths: list[str], iters: int, chunk: int) -> dict[str, Any]:
    """The same loop on a ``multiprocessing.Pool(2)`` (fork) pulling chunks of ``chunk`` items:
    what this machine's 2 cores give right now with no framework beyond the standard library
    (2 vCPUs may share a physical core, and other work competes)."""
    import functools
    import multiprocessing
    import resource

    chunks = [paths[i : i + chunk] for i in range(0, len(paths), chunk)]
    load = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    pool = multiprocessing.get_context("fork").Pool(2)
    try:
        total = sum(pool.imap_unordered(functools.partial(_score_chunk, iters=iters), chunks))
        wall = time.perf_counter() - t0
    finally:
        pool.close()
        pool.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "items": len(paths),
        "wall_s": wall,
        "cpu_s": cpu,
        "rate": len(paths) / wall,
        "checksum": total % MOD,
        "load": list(load),
    }


def run_ray(work: Path, paths: list[str], iters: int, batch_size: int) -> dict[str, Any]:
    listing = work / "ray-files.txt"
    listing.write_text("\n".join(paths) + "\n")
    result = probe([str(HERE / "ray_probe.py"), str(listing), str(iters), str(batch_size)])
    if "error" not in result:
        n = result["items"]
        result["steady_rate"] = n / result["steady_s"]
        result["map_rate"] = n / result["map_wall_s"]
        result["e2e_rate"] = n / result["e2e_s"]
    return result


def profile_top(pstats_path: Path, n: int = 12) -> list[str]:
    """The engine's top functions by own time, as ``pstats`` prints them."""
    import io
    import pstats

    out = io.StringIO()
    stats = pstats.Stats(str(pstats_path), stream=out)
    stats.sort_stats("tottime").print_stats(n)
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return [line.replace(str(REPO) + "/", "") for line in lines[start:] if line.strip()]
