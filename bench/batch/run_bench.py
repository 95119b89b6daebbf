"""Ferry's batch engine against an in-process loop and Ray Data, side by side on this machine.

Run with the bench venv (``bench/batch/setup.sh`` makes it; ``make bench-batch`` does both)::

    bench/.venv/bin/python bench/batch/run_bench.py [--reps 3] [--items 10000] [--quick]

Every contender runs the same ``driver.score_file`` (about 1 ms of pure-Python work per item, the
iteration count calibrated once at the start) over the same folder of small files. Measurements
are taken in rounds (in-process, ``multiprocessing.Pool(2)``, Ferry's engine with 1 and 2
workers, the server path, Ray Data, the engine with batches of 10), so the contenders of one
round share the machine's load; medians of the rounds are reported, and each measurement records
the load average. Then the start-up time (SDK invoke -> first ``run()``), the 1M-file planning
and tracking test, and cProfiles of the engine. Results go to ``bench/results/batch-<date>.json``
and ``bench/results/batch-latest.md``. No assertions: the numbers are reported, not checked.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

import driver  # noqa: E402
import report  # noqa: E402
from contenders import (  # noqa: E402
    MOD,
    code_folder,
    job_folder,
    log,
    make_items,
    make_million,
    probe,
    profile_top,
    run_engine,
    run_inprocess,
    run_pool,
    run_ray,
    run_server,
)


# -- main --------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--mini-batch-size", type=int, default=100)
    parser.add_argument(
        "--pairs", type=int, default=7, help="bracketed Ferry-2w/Pool(2) vs in-process pairs"
    )
    parser.add_argument("--startup-runs", type=int, default=7)
    parser.add_argument("--million", type=int, default=1_000_000)
    parser.add_argument("--million-root", default="/tmp/ferry-bench-1m")
    parser.add_argument("--work", default="/tmp/ferry-bench-batch")
    parser.add_argument(
        "--out", help="results folder (default bench/results; with --quick, WORK/results)"
    )
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-million", action="store_true")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile runs")
    parser.add_argument("--quick", action="store_true", help="2,000 items, 1 rep, 100k files")
    parser.add_argument("--report", metavar="JSON", help="only redo the summary and Markdown")
    args = parser.parse_args()
    if args.report:
        return rewrite_report(Path(args.report))
    if args.quick:
        args.items, args.reps, args.startup_runs, args.million = 2000, 1, 3, 100_000
        args.pairs = 2
        args.million_root = args.million_root + "-quick"

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.out is None:  # a smoke run's numbers do not belong with the real ones
        args.out = str(work / "results") if args.quick else str(REPO / "bench" / "results")
    for old in ("jobs", "ws", "stamps"):
        shutil.rmtree(work / old, ignore_errors=True)
    code = code_folder(work)
    data = work / f"items-{args.items}"
    paths = make_items(data, args.items)
    mbs = args.mini_batch_size

    res: dict[str, Any] = {"meta": report.meta(args, REPO)}
    iters = sorted(driver.calibrate() for _ in range(3))[1]
    res["meta"]["iters_per_item"] = iters
    log(f"calibrated: {iters} iterations ~ 1 ms; {args.items} items, {args.reps} rounds")

    rounds: dict[str, list[Any]] = {
        k: []
        for k in (
            "inprocess",
            "pool_2",
            "ferry_1w",
            "server_2w",
            "ferry_2w",
            "ray",
            "ferry_2w_after_ray",
            "ferry_2w_mbs10",
        )
    }

    def engine(rep: int, key: str, workers: int, size: int) -> None:
        r = run_engine(
            work, f"{key}-r{rep}", code, str(data), args.items, workers=workers, mbs=size,
            iters=iters,
        )  # fmt: skip
        rounds[key].append(r)
        log(f"round {rep + 1}: {key} {r.get('rate', 0):.0f} items/s")

    # Ferry's 2-worker job runs right before ray.init() and right after Ray's map, so the
    # per-round Ferry/Ray ratio compares runs as close in time as Ray's start-up allows.
    for rep in range(args.reps):
        rounds["inprocess"].append(run_inprocess(paths, iters))
        log(f"round {rep + 1}: in-process {rounds['inprocess'][-1]['rate']:.0f} items/s")
        rounds["pool_2"].append(run_pool(paths, iters, mbs))
        log(f"round {rep + 1}: Pool(2) {rounds['pool_2'][-1]['rate']:.0f} items/s")
        engine(rep, "ferry_1w", 1, mbs)
        r = run_server(work, f"server-r{rep}", code, str(data), args.items, iters, mbs)
        rounds["server_2w"].append(r)
        log(f"round {rep + 1}: server path {r.get('rate', 0):.0f} items/s")
        engine(rep, "ferry_2w", 2, mbs)
        if not args.skip_ray:
            rounds["ray"].append(run_ray(work, paths, iters, mbs))
            log(f"round {rep + 1}: ray steady {rounds['ray'][-1].get('steady_rate', 0):.0f}/s")
            engine(rep, "ferry_2w_after_ray", 2, mbs)
        engine(rep, "ferry_2w_mbs10", 2, 10)
    res["rounds"] = rounds
    res["pairs"] = run_pairs(args.pairs, work, code, data, paths, iters, mbs)

    env = {"BENCH_ITERS": str(iters)}
    tiny = work / "items-tiny"
    make_items(tiny, 4)
    startup_cfg = {
        "workspace": str(work / "ws" / "startup"),
        "workdir": str(work),
        "code": str(code),
        "env": env,
        "workers": 2,
        "mini_batch_size": mbs,
        "startup": {
            "data": str(tiny),
            "runs": args.startup_runs,
            "stamp_root": str(work / "stamps"),
        },
    }
    res["startup"] = probe([str(HERE / "server_probe.py"), json.dumps(startup_cfg)])
    log(f"start-up: {[round(r['first_run_s'], 3) for r in res['startup'].get('startup', [])]} s")

    if not args.skip_million:
        res["million"] = run_million(args, work, code)

    if not args.no_profile:
        res["profile"] = run_profiles(args, work, code, str(data), iters)

    res["meta"]["load_end"] = list(os.getloadavg())
    res["meta"]["uptime_end"] = report.uptime()
    res["meta"]["bench_seconds"] = time.monotonic() - res["meta"]["_t0"]
    del res["meta"]["_t0"]
    res["summary"] = report.summarise(res)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    day = datetime.date.today().isoformat()
    name = f"batch-{day}{'-quick' if args.quick else ''}.json"
    (out / name).write_text(json.dumps(res, indent=2) + "\n")
    md = report.markdown(res, name)
    (out / f"batch-latest{'-quick' if args.quick else ''}.md").write_text(md)
    print(md)
    log(f"wrote {out / name}")
    return 0


def run_pairs(
    n: int, work: Path, code: Path, data: Path, paths: list[str], iters: int, mbs: int
) -> list[dict[str, Any]]:
    """The goal's ratio measured tightly: each pair runs the in-process loop on half the items,
    then Ferry's engine (2 workers) and ``Pool(2)`` on all of them (their order alternating),
    then the in-process loop on the other half. The two halves bracket the contenders in time,
    so a drift of the machine's speed (other tenants, clock changes) within the pair cancels out
    to first order; the rounds above are seconds to a minute apart and do not get that."""
    pairs: list[dict[str, Any]] = []
    for i in range(n):
        before = run_inprocess(paths[0::2], iters)
        runs: dict[str, Any] = {}
        for key in ("ferry_2w", "pool_2") if i % 2 == 0 else ("pool_2", "ferry_2w"):
            if key == "pool_2":
                runs[key] = run_pool(paths, iters, mbs)
            else:
                runs[key] = run_engine(
                    work, f"pair-{i}", code, str(data), len(paths), workers=2, mbs=mbs, iters=iters
                )
                runs[key].pop("timeline", None)
                shutil.rmtree(work / "jobs" / f"pair-{i}", ignore_errors=True)
        after = run_inprocess(paths[1::2], iters)
        wall = before["wall_s"] + after["wall_s"]
        inproc = {
            "rate": len(paths) / wall,
            "wall_s": wall,
            "cpu_s": before["cpu_s"] + after["cpu_s"],
            "checksum": (before["checksum"] + after["checksum"]) % MOD,
            "load": before["load"],
            "halves": [before["rate"], after["rate"]],
        }
        pairs.append({"inprocess": inproc, **runs})
        r = {k: runs[k].get("rate", 0) / (2 * inproc["rate"]) for k in runs}
        log(
            f"pair {i + 1}: in-process {inproc['rate']:.0f}/s (halves {before['rate']:.0f}, "
            f"{after['rate']:.0f}); ferry_2w {r['ferry_2w']:.3f}, Pool(2) {r['pool_2']:.3f} "
            "of 2x in-process"
        )
    return pairs


def rewrite_report(path: Path) -> int:
    """Summarise a stored result file again and rewrite its Markdown next to it."""
    res = json.loads(path.read_text())
    res["summary"] = report.summarise(res)
    path.write_text(json.dumps(res, indent=2) + "\n")
    md = report.markdown(res, path.name)
    quick = "-quick" if res["meta"]["args"].get("quick") else ""
    (path.parent / f"batch-latest{quick}.md").write_text(md)
    print(md)
    return 0


def run_million(args: argparse.Namespace, work: Path, code: Path) -> dict[str, Any]:
    files = make_million(Path(args.million_root), args.million)
    out: dict[str, Any] = {"items": args.million, "engine": [], "server": []}
    for rep in range(args.reps):
        r = run_engine(
            work, f"million-r{rep}", code, str(files), args.million, workers=2, mbs=1000, iters=0
        )
        r.pop("timeline", None)
        out["engine"].append(r)
        log(f"1M engine: plan {r.get('plan_s', 0):.1f} s, total {r.get('wall_s', 0):.1f} s")
        shutil.rmtree(work / "jobs" / f"million-r{rep}", ignore_errors=True)
    for rep in range(args.reps):
        cfg = {
            "workspace": str(work / "ws" / f"million-r{rep}"),
            "workdir": str(work),
            "code": str(code),
            "env": {"BENCH_ITERS": "0"},
            "workers": 2,
            "mini_batch_size": 1000,
            "million": {"data": str(files)},
        }
        r = probe([str(HERE / "server_probe.py"), json.dumps(cfg)])
        out["server"].append(r)
        m = r.get("million", {})
        log(f"1M server: total {m.get('total_s', 0):.1f} s, hwm {m.get('server_hwm_after_mb')} MB")
        shutil.rmtree(work / "ws" / f"million-r{rep}", ignore_errors=True)
    return out


def run_profiles(
    args: argparse.Namespace, work: Path, code: Path, data: str, iters: int
) -> dict[str, Any]:
    """cProfile of the engine process (not the workers) on the 2-worker job and the 1M job.
    Extra runs: profiling slows the engine, so these are not the timed ones."""
    out: dict[str, Any] = {}
    jobs = [("ferry_2w", data, 2, args.mini_batch_size, iters)]
    jobs.append(("ferry_2w_mbs10", data, 2, 10, iters))
    if not args.skip_million:
        files = str(Path(args.million_root) / "files")
        jobs.append(("million", files, 2, 1000, 0))
    for label, inputs, workers, mbs, n in jobs:
        root = job_folder(work / "jobs" / f"profile-{label}", code, inputs, workers, mbs, n)
        stats = work / f"profile-{label}.pstats"
        r = probe([str(HERE / "engine_probe.py"), str(root), "--profile", str(stats)])
        top = profile_top(stats) if stats.is_file() else [str(r.get("error"))]
        out[label] = {"wall_s": r.get("wall_s"), "top_tottime": top}
        shutil.rmtree(root, ignore_errors=True)
    log("profiles done")
    return out


if __name__ == "__main__":
    sys.exit(main())
