"""Ferry's online endpoints against azmlinfsrv and an in-process floor, side by side.

Run with the bench venv (``bench/online/setup.sh`` makes it; ``make bench-online`` does both)::

    bench/.venv-online/bin/python bench/online/run_bench.py [--reps 3] [--seconds 3] [--quick]

1. The same trivial ``trivial/score.py`` served by Ferry (2 replicas, ``ferry:server-python``)
   and by ``azmlinfsrv`` (``WORKER_COUNT=2``), under closed-loop load from wrk at several
   concurrency levels; plus ``run()`` called in this process (the floor for added latency).
2. A torch MLP (``mlp/score.py``) behind Ferry with and without dynamic batching.

Measurements run in rounds (every contender at every level once per round, the contenders'
order alternating), so contenders of one round share the machine's load; tables give the
median of the rounds. Each measurement records the load average, the CPU seconds used by each
server process, by the load generator and by everything else on the machine. When Ferry misses
a goal, py-spy samples the gateway (and a replica) under load and the top functions are
reported. Results go to ``bench/results/online-<date>.json`` and ``online-latest.md``. Nothing
here asserts a timing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

import gc_probe  # noqa: E402
import loadgen  # noqa: E402
import report  # noqa: E402
import servers  # noqa: E402
import spy  # noqa: E402
from floor import BATCHING, TORCH_THREADS, TRIVIAL_BODY, floors, mlp_body  # noqa: E402
from servers import BATCHED_CONCURRENCY, deploy_all  # noqa: E402

_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f} s] {message}", file=sys.stderr, flush=True)


# -- machine accounting ------------------------------------------------------------------------
def machine_busy_s() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


# -- one measurement ---------------------------------------------------------------------------
def measure(target: servers.Target, body: bytes, conns: int, seconds: int, client: str) -> Any:
    """One load run, with the CPU seconds of every server process, the client and the rest."""
    pids = dict(target.pids)
    if "master" in pids:  # gunicorn may have replaced a worker: look again
        tree = servers.process_tree(pids["master"])
        pids = {"master": tree[0], **{f"worker-{i}": p for i, p in enumerate(tree[1:])}}
    cpu0 = {role: servers.cpu_seconds(pid) for role, pid in pids.items()}
    busy0 = machine_busy_s()
    result = loadgen.run_load(target.url, body, target.headers, conns, seconds, client)
    busy = machine_busy_s() - busy0
    cpu1 = {role: servers.cpu_seconds(pid) for role, pid in pids.items()}
    ok = max(1, result["ok"])
    user = {role: (cpu1[role][0] - cpu0[role][0]) / ok * 1e6 for role in pids}
    system = {role: (cpu1[role][1] - cpu0[role][1]) / ok * 1e6 for role in pids}
    ours = (sum(user.values()) + sum(system.values())) * ok / 1e6 + result["client_cpu_s"]
    result["machine_busy_s"] = busy
    result["others_cpu_s"] = max(0.0, busy - ours)
    result["cpu_us_per_req"] = {role: user[role] + system[role] for role in pids}
    result["cpu_us_per_req"]["client"] = result["client_cpu_s"] / ok * 1e6
    result["user_us_per_req"] = user
    result["sys_us_per_req"] = system
    return result


def batch_stats(text: str, endpoint: str) -> tuple[float, float]:
    """(sum, count) of ferry_online_batch_size for ``endpoint``."""
    total = count = 0.0
    for line in text.splitlines():
        if f'endpoint="{endpoint}"' not in line:
            continue
        if line.startswith("ferry_online_batch_size_sum"):
            total = float(line.rsplit(" ", 1)[1])
        elif line.startswith("ferry_online_batch_size_count"):
            count = float(line.rsplit(" ", 1)[1])
    return total, count


def check_answers(targets: dict[str, servers.Target], expected: dict[str, Any]) -> list[str]:
    """Every server answers what ``run()`` answers in-process; returns the problems found."""
    import httpx

    problems = []
    for key, target in targets.items():
        trivial = not key.startswith("mlp")
        body = TRIVIAL_BODY if trivial else mlp_body()
        response = httpx.post(target.url, content=body, headers=target.headers, timeout=30)
        if response.status_code != 200:
            problems.append(f"{key}: HTTP {response.status_code}: {response.text[:200]}")
            continue
        got = response.json()
        want = expected["trivial"] if trivial else expected["mlp"]
        if not trivial:
            same = got["label"] == want["label"] and all(
                abs(a - b) < 1e-3 for a, b in zip(got["logits"], want["logits"], strict=True)
            )
        else:
            same = got == want
        if not same:
            problems.append(f"{key}: answered {got!r}, run() in-process gives {want!r}")
    return problems


# -- the runs ----------------------------------------------------------------------------------
def rounds(
    plan: list[tuple[int, list[str]]],
    targets: dict[str, servers.Target],
    bodies: dict[str, bytes],
    args: argparse.Namespace,
    ferry: servers.FerryServer,
) -> dict[str, dict[int, list[Any]]]:
    """``plan`` is [(concurrency, [target keys])]; every round runs all of it once."""
    runs: dict[str, dict[int, list[Any]]] = {}
    for rep in range(args.reps):
        for conns, keys in plan:
            order = keys if rep % 2 == 0 else list(reversed(keys))
            for key in order:
                target = targets[key]
                before = batch_stats(ferry.metrics(), target.endpoint) if target.endpoint else None
                result = measure(target, bodies[key], conns, args.seconds, args.client)
                if before is not None:
                    after = batch_stats(ferry.metrics(), target.endpoint)
                    batches = after[1] - before[1]
                    result["mean_batch"] = (after[0] - before[0]) / batches if batches else None
                result["round"] = rep
                runs.setdefault(key, {}).setdefault(conns, []).append(result)
                log(
                    f"round {rep + 1}/{args.reps} {key:>11} c={conns:<3} "
                    f"{result['rps']:8.0f} req/s  p50 {result['p50_us'] / 1000:7.2f} ms  "
                    f"p99 {result['p99_us'] / 1000:7.2f} ms  non-2xx {result['non_2xx']}  "
                    f"load {result['load'][0]:.2f}"
                )
    return runs


def median_of(results: list[Any], key: str) -> float:
    return float(statistics.median(r[key] for r in results))


def summarise(runs: dict[str, dict[int, list[Any]]]) -> dict[str, dict[int, Any]]:
    table: dict[str, dict[int, Any]] = {}
    for key, levels in runs.items():
        for conns, results in levels.items():
            roles = results[0]["cpu_us_per_req"].keys()
            table.setdefault(key, {})[conns] = {
                "rps": median_of(results, "rps"),
                "rps_min": min(r["rps"] for r in results),
                "rps_max": max(r["rps"] for r in results),
                "p50_us": median_of(results, "p50_us"),
                "p99_us": median_of(results, "p99_us"),
                "non_2xx": sum(r["non_2xx"] for r in results),
                "socket_errors": sum(r["socket_errors"] for r in results),
                "load1": median_of([{"x": r["load"][0]} for r in results], "x"),
                "others_cpu_share": statistics.median(
                    r["others_cpu_s"] / r["wall_s"] for r in results
                ),
                "cpu_us_per_req": {
                    role: statistics.median(r["cpu_us_per_req"].get(role, 0) for r in results)
                    for role in roles
                },
                "user_us_per_req": {
                    role: statistics.median(r["user_us_per_req"].get(role, 0) for r in results)
                    for role in results[0]["user_us_per_req"]
                },
                "sys_us_per_req": {
                    role: statistics.median(r["sys_us_per_req"].get(role, 0) for r in results)
                    for role in results[0]["sys_us_per_req"]
                },
                "mean_batch": (
                    statistics.median(r["mean_batch"] for r in results if r.get("mean_batch"))
                    if any(r.get("mean_batch") for r in results)
                    else None
                ),
            }
    return table


def goals(summary: dict[str, dict[int, Any]], floor_p50_us: float) -> dict[str, Any]:
    ferry, azml = summary["ferry"], summary["azmlinfsrv"]
    throughput = {c: ferry[c]["rps"] / azml[c]["rps"] for c in ferry if c in azml}
    added = (ferry[min(ferry)]["p50_us"] - floor_p50_us) / 1000
    added_azml = (azml[min(azml)]["p50_us"] - floor_p50_us) / 1000
    batching = {}
    for c in summary.get("mlp_batched", {}):
        single, batched = summary["mlp_single"][c], summary["mlp_batched"][c]
        batching[c] = {
            "throughput_ratio": batched["rps"] / single["rps"],
            "p99_ratio": batched["p99_us"] / single["p99_us"],
            "cpu_ratio": sum(single["cpu_us_per_req"].values())
            / sum(batched["cpu_us_per_req"].values()),
        }
    return {
        "throughput_vs_azmlinfsrv": throughput,
        "throughput_met": all(r >= 2 for r in throughput.values()),
        "added_p50_ms": added,
        "added_p50_ms_azmlinfsrv": added_azml,
        "added_p50_met": added <= 1.0,
        "batching": batching,
        "batching_met": bool(batching)
        and all(b["throughput_ratio"] >= 3 and b["p99_ratio"] <= 2 for b in batching.values()),
    }


def profile(
    target: servers.Target,
    body: bytes,
    conns: int,
    seconds: int,
    roles: list[str],
    work: Path,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """py-spy on ``roles`` of ``target`` while wrk loads it; CPU per request alongside."""
    files = {role: work / f"pyspy-{target.endpoint}-c{conns}-{role}.txt" for role in roles}
    spies = [
        spy.start(target.pids[role], seconds, path, gil=role == "gateway")
        for role, path in files.items()
    ]
    time.sleep(0.3)  # py-spy attaches
    result = measure(target, body, conns, seconds, args.client)
    for proc in spies:
        proc.wait(timeout=seconds + 30)
    return {
        "target": target.name,
        "concurrency": conns,
        "rps": result["rps"],
        "cpu_us_per_req": result["cpu_us_per_req"],
        "load": result["load"],
        "raw_files": {role: str(path) for role, path in files.items()},
        "profiles": {role: spy.summarise(path) for role, path in files.items()},
    }


def versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {"python": sys.version.split()[0]}
    for dist in ("ferry", "azureml-inference-server-http", "gunicorn", "flask", "uvicorn", "torch"):
        try:
            out[dist] = version(dist)
        except Exception:
            out[dist] = "missing"
    git = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True
    )
    out["ferry_git"] = git.stdout.strip()
    if loadgen.have_wrk():
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
        out["wrk"] = (wrk.stdout or wrk.stderr).splitlines()[0]
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--seconds", type=int, default=3, help="load time per measurement (s)")
    parser.add_argument("--levels", default="1,4,16,64", help="concurrency levels, trivial")
    parser.add_argument("--mlp-levels", default="32,64", help="concurrency levels, torch MLP")
    parser.add_argument(
        "--mlp-hidden", type=int, default=1024, help="hidden width H of the 256-H-H-10 MLP"
    )
    parser.add_argument(
        "--extra-batch-sizes",
        default="",
        metavar="N,N",
        help="also measure the MLP with these max_batch_size values (e.g. 16,8)",
    )
    parser.add_argument("--client", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument("--profile", choices=["auto", "always", "never"], default="auto")
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s, fewer levels")
    parser.add_argument("--work", type=Path, default=Path("/tmp/ferry-bench-online"))
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument(
        "--rerender",
        type=Path,
        metavar="JSON",
        help="measure nothing: rewrite online-latest.md from a results file (profiles are "
        "summarised again from their raw py-spy files when these still exist)",
    )
    args = parser.parse_args()
    # The MLP's hidden width reaches the in-process floor and every replica through this.
    os.environ["BENCH_MLP_HIDDEN"] = str(args.mlp_hidden)
    if args.quick:  # fewer rounds; levels given on the command line are kept
        args.reps, args.seconds = 1, 2
        if args.levels == parser.get_default("levels"):
            args.levels = "1,16,64"
        if args.mlp_levels == parser.get_default("mlp_levels"):
            args.mlp_levels = "64"
    if args.client == "auto":
        args.client = "wrk" if loadgen.have_wrk() else "httpx"
        if args.client == "httpx":
            log("wrk not found (apt-get install -y wrk): falling back to the httpx client")
    elif args.client == "wrk" and not loadgen.have_wrk():
        raise SystemExit("wrk is not installed: apt-get install -y wrk (or --client httpx)")
    return args


def rerender(path: Path, out: Path) -> int:
    record = json.loads(path.read_text())
    for p in record.get("profiles") or []:
        for role, raw in p["raw_files"].items():
            if Path(raw).exists():
                p["profiles"][role] = spy.summarise(Path(raw))
    path.write_text(json.dumps(record, indent=1, default=str) + "\n")
    (out / "online-latest.md").write_text(report.markdown(record, path.name))
    print(report.headline(record))
    return 0


def main() -> int:
    args = parse_args()
    if args.rerender:
        return rerender(args.rerender, args.out)
    levels = [int(x) for x in args.levels.split(",")]
    mlp_levels = [int(x) for x in args.mlp_levels.split(",")]
    shutil.rmtree(args.work, ignore_errors=True)  # a fresh workspace: no restored deployments
    args.work.mkdir(parents=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    meta: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "uptime_start": uptime(),
        "cpus": os.cpu_count(),
        "versions": versions(),
        "client": args.client,
        "reps": args.reps,
        "seconds": args.seconds,
        "torch_threads_per_replica": TORCH_THREADS,
        "batching": BATCHING,
        "batched_max_concurrent_requests_per_instance": BATCHED_CONCURRENCY,
    }
    log(f"{meta['uptime_start']}; client {args.client}; {args.reps} rounds of {args.seconds} s")

    log("in-process floors (run() called directly)")
    floor_runs = floors(args.reps, min(args.seconds, 1))

    log("starting Ferry (fresh workspace), azmlinfsrv and the bare uvicorn control")
    ferry = servers.FerryServer(args.work / "ws")
    azml = servers.AzmlServer(HERE / "trivial", args.work / "azmlinfsrv.log", workers=2)
    bare = servers.BareServer(args.work / "bare-uvicorn.log")
    try:
        extra = tuple(int(x) for x in args.extra_batch_sizes.split(",") if x)
        targets = {"azmlinfsrv": azml.start(), "bare": bare.start()}
        targets.update(deploy_all(ferry, extra))
        problems = check_answers(targets, floor_runs["expected"])
        if problems:
            raise SystemExit("wrong answers, not measuring:\n" + "\n".join(problems))
        bodies = {"ferry": TRIVIAL_BODY, "azmlinfsrv": TRIVIAL_BODY, "bare": TRIVIAL_BODY}
        bodies.update({key: mlp_body() for key in targets if key.startswith("mlp")})

        log("warm-up")
        for key, target in targets.items():
            loadgen.run_load(target.url, bodies[key], target.headers, 16, 1, args.client)

        log("trivial score.py: Ferry vs azmlinfsrv")
        trivial_plan = [(c, ["ferry", "azmlinfsrv", "bare"]) for c in levels]
        runs = rounds(trivial_plan, targets, bodies, args, ferry)
        log("torch MLP: Ferry without and with dynamic batching")
        mlp_keys = ["mlp_single", "mlp_batched", *(f"mlp_b{n}" for n in extra)]
        mlp_plan = [(c, mlp_keys) for c in mlp_levels]
        runs.update(rounds(mlp_plan, targets, bodies, args, ferry))

        summary = summarise(runs)
        floor_p50 = statistics.median(f["p50_us"] for f in floor_runs["trivial_run"])
        verdict = goals(summary, floor_p50)
        missed = not (
            verdict["throughput_met"] and verdict["added_p50_met"] and verdict["batching_met"]
        )
        diagnose = args.profile == "always" or (args.profile == "auto" and missed)
        profiles = []
        if diagnose:
            log("py-spy: the gateway and a replica under load")
            secs = max(args.seconds, 4)
            roles = ["gateway", "replica-0"]
            for key, conns in (
                ("ferry", max(levels)),
                ("mlp_single", max(mlp_levels)),
                ("mlp_batched", max(mlp_levels)),
            ):
                target = targets[key]
                profiles.append(profile(target, bodies[key], conns, secs, roles, args.work, args))
    finally:
        bare.stop()
        azml.stop()
        ferry.stop()
    gc = None
    if diagnose:
        log("GC probe: Ferry's server with its collector watched, as shipped and frozen")
        plan = [("ferry", max(levels)), ("mlp_single", max(mlp_levels))]
        plan.append(("mlp_batched", max(mlp_levels)))
        reps = min(args.reps, 2)
        gc = gc_probe.run_gc_probe(args.work, plan, bodies, reps, args.seconds, args.client, log)
    meta["uptime_end"] = uptime()

    record = {
        "meta": meta,
        "floors": floor_runs,
        "runs": runs,
        "summary": summary,
        "goals": verdict,
        "profiles": profiles,
        "gc_probe": gc,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"online-{started.date().isoformat()}.json"
    path.write_text(json.dumps(record, indent=1, default=str) + "\n")
    (args.out / "online-latest.md").write_text(report.markdown(record, path.name))
    log(f"wrote {path} and {args.out / 'online-latest.md'}")
    print(report.headline(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
