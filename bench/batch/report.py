"""Summary numbers and the Markdown table of a batch bench run (see ``run_bench.py``)."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

GOAL_VS_INPROC = 0.95  # Ferry 2 workers >= 0.95 x 2 x the in-process rate
GOAL_VS_RAY = 1.5  # Ferry 2 workers >= 1.5 x Ray Data
GOAL_STARTUP = 1.0  # invoke -> first run() <= 1 s


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    return proc.stdout.strip()


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def meta(args: argparse.Namespace, repo: Path) -> dict[str, Any]:
    import ferry

    return {
        "_t0": time.monotonic(),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "args": vars(args),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "ray": _version("ray"),
        "numpy": _version("numpy"),
        "ferry_package": str(Path(ferry.__file__).parent),
        "git_head": _git(repo, "rev-parse", "--short", "HEAD"),
        "ferry_uncommitted": _git(repo, "status", "--porcelain", "src/ferry").splitlines(),
        "load_start": list(os.getloadavg()),
        "uptime_start": uptime(),
    }


def _med(values: list[Any]) -> float | None:
    clean = [float(v) for v in values if v is not None]
    return statistics.median(clean) if clean else None


def _ok(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in runs if r.get("error") is None]


def _pick(runs: list[dict[str, Any]], key: str) -> list[Any]:
    return [r.get(key) for r in _ok(runs)]


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _paired(a: list[dict[str, Any]], ka: str, b: list[dict[str, Any]], kb: str, k: float) -> Any:
    """Median over rounds of a[i][ka] / (k * b[i][kb]): contenders of one round share its load."""
    ratios = [
        x[ka] / (k * y[kb])
        for x, y in zip(a, b, strict=False)
        if x.get("error") is None and y.get("error") is None and x.get(ka) and y.get(kb)
    ]
    return _med(ratios)


def _around(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Two runs that bracket another one in time, as one: their mean rates."""
    runs = _ok([before, after])
    return {
        k: statistics.fmean(r[k] for r in runs) if runs and all(r.get(k) for r in runs) else None
        for k in ("rate", "steady_rate")
    }


def summarise(res: dict[str, Any]) -> dict[str, Any]:
    rounds = res["rounds"]
    inp, f1, f2 = rounds["inprocess"], rounds["ferry_1w"], rounds["ferry_2w"]
    ray, f10, pool = rounds["ray"], rounds["ferry_2w_mbs10"], rounds.get("pool_2", [])
    server = rounds.get("server_2w", [])
    s: dict[str, Any] = {
        "inprocess_rate": _med(_pick(inp, "rate")),
        "pool_2_rate": _med(_pick(pool, "rate")),
        "ferry_1w_rate": _med(_pick(f1, "rate")),
        "ferry_2w_rate": _med(_pick(f2, "rate")),
        "ferry_2w_steady_rate": _med(_pick(f2, "steady_rate")),
        "ferry_2w_mbs10_rate": _med(_pick(f10, "rate")),
        "server_2w_rate": _med(_pick(server, "rate")),
        "ray_steady_rate": _med(_pick(ray, "steady_rate")),
        "ray_map_rate": _med(_pick(ray, "map_rate")),
        "ray_e2e_rate": _med(_pick(ray, "e2e_rate")),
        "ray_init_s": _med(_pick(ray, "init_s")),
    }
    s["ratio_2w_vs_2x_inprocess"] = _div(s["ferry_2w_rate"], 2 * (s["inprocess_rate"] or 0))
    s["ratio_2w_vs_2x_inprocess_paired"] = _paired(f2, "rate", inp, "rate", 2)
    s["ratio_pool_vs_2x_inprocess"] = _paired(pool, "rate", inp, "rate", 2)
    s["ratio_2w_vs_pool"] = _paired(f2, "rate", pool, "rate", 1)
    s["ratio_1w_vs_inprocess"] = _div(s["ferry_1w_rate"], s["inprocess_rate"])
    s["ratio_2w_vs_ray_steady"] = _div(s["ferry_2w_rate"], s["ray_steady_rate"])
    # Per round: Ferry's runs just before ray.init() and just after Ray's map, against Ray.
    after = rounds.get("ferry_2w_after_ray", [])
    around = [_around(x, y) for x, y in zip(f2, after, strict=False)] if after else f2
    s["ratio_2w_vs_ray_steady_paired"] = _paired(around, "rate", ray, "steady_rate", 1)
    s["ratio_2w_steady_vs_ray_steady_paired"] = _paired(
        around, "steady_rate", ray, "steady_rate", 1
    )
    s["ratio_2w_vs_ray_map_paired"] = _paired(around, "rate", ray, "map_rate", 1)
    s["ratio_2w_steady_vs_ray_steady"] = _div(s["ferry_2w_steady_rate"], s["ray_steady_rate"])
    s["ratio_2w_vs_ray_map"] = _div(s["ferry_2w_rate"], s["ray_map_rate"])
    s["ratio_2w_vs_ray_e2e"] = _div(s["ferry_2w_rate"], s["ray_e2e_rate"])
    best = {
        k: max(_pick(runs, f) or [0.0])
        for k, runs, f in (
            ("inprocess", inp, "rate"),
            ("ferry_2w", f2, "rate"),
            ("ray_steady", ray, "steady_rate"),
        )
    }
    s["ratio_best_2w_vs_2x_inprocess"] = _div(best["ferry_2w"], 2 * best["inprocess"])
    s["ratio_best_2w_vs_ray_steady"] = _div(best["ferry_2w"], best["ray_steady"])
    s["ratio_server_vs_engine_2w"] = _paired(server, "rate", f2, "rate", 1)

    # CPU accounting: what Ferry itself costs, independent of how busy the machine is.
    items = [r["items"] for r in _ok(inp)]
    s["inprocess_cpu_ms_per_item"] = _med([r["cpu_s"] / r["items"] * 1e3 for r in _ok(inp)])
    s["inprocess_cpu_over_wall"] = _med([r["cpu_s"] / r["wall_s"] for r in _ok(inp)])
    s["pool_2_cpu_ms_per_item"] = _med([r["cpu_s"] / r["items"] * 1e3 for r in _ok(pool)])
    s["pool_2_cores_used"] = _med([r["cpu_s"] / r["wall_s"] for r in _ok(pool)])
    if items:
        n = items[0]
        s["ferry_2w_worker_cpu_ms_per_item"] = _med([r["workers_cpu_s"] / n * 1e3 for r in _ok(f2)])
        s["ferry_2w_engine_cpu_ms_per_item"] = _med([r["engine_cpu_s"] / n * 1e3 for r in _ok(f2)])
        s["ferry_2w_cores_used"] = _med(
            [(r["workers_cpu_s"] + r["engine_cpu_s"]) / r["wall_s"] for r in _ok(f2)]
        )
        s["ferry_2w_mbs10_engine_cpu_ms_per_item"] = _med(
            [r["engine_cpu_s"] / n * 1e3 for r in _ok(f10)]
        )
    timeline = [r.get("timeline", {}) for r in _ok(f2)]
    s["ferry_2w_timeline"] = {
        k: _med([t.get(k) for t in timeline])
        for k in (
            "first_init_s",
            "head_s",
            "steady_s",
            "tail_s",
            "gap_worker_s",
            "early_end_worker_s",
        )
    }
    s["ferry_2w_plan_s"] = _med(_pick(f2, "plan_s"))
    s["ferry_2w_wall_s"] = _med(_pick(f2, "wall_s"))
    s["server_2w_cpu_s"] = _med(_pick(server, "server_cpu_s"))
    server_tl = [r.get("timeline", {}) for r in _ok(server)]
    s["server_2w_timeline"] = {k: _med([t.get(k) for t in server_tl]) for k in ("head_s", "tail_s")}

    start = [r for r in res.get("startup", {}).get("startup", []) if r.get("state") == "Completed"]
    s["startup_first_run_s"] = [r["first_run_s"] for r in start]
    s["startup_median_s"] = _med(s["startup_first_run_s"])
    for key in ("invoke_rtt_s", "prepared_s", "planned_s", "first_init_s", "completed_seen_s"):
        s[f"startup_{key}"] = _med([r.get(key) for r in start])

    million = res.get("million")
    if million:
        eng, srv = _ok(million["engine"]), [r.get("million", {}) for r in million["server"]]
        s["million_engine_plan_s"] = _med([r.get("plan_s") for r in eng])
        s["million_engine_total_s"] = _med([r.get("wall_s") for r in eng])
        s["million_engine_peak_rss_mb"] = _med([r.get("engine_peak_rss_mb") for r in eng])
        s["million_worker_peak_rss_mb"] = _med([r.get("worker_peak_rss_mb") for r in eng])
        s["million_engine_cpu_s"] = _med([r.get("engine_cpu_s") for r in eng])
        s["million_server_plan_s"] = _med([r.get("plan_s") for r in srv])
        s["million_server_cpu_s"] = _med([r.get("server_cpu_s") for r in srv])
        s["million_server_total_s"] = _med([r.get("total_s") for r in srv])
        s["million_server_rss_before_mb"] = _med([r.get("server_rss_before_mb") for r in srv])
        s["million_server_hwm_mb"] = _med([r.get("server_hwm_after_mb") for r in srv])
        s["million_completed"] = [r.get("state") for r in eng] + [r.get("state") for r in srv]

    pairs = res.get("pairs", [])
    pair_ratios: dict[str, list[float]] = {"ferry_2w": [], "pool_2": [], "ferry_vs_pool": []}
    for p in pairs:
        ok = all(p[k].get("error") is None and p[k].get("rate") for k in ("ferry_2w", "pool_2"))
        if not ok:
            continue
        limit = 2 * p["inprocess"]["rate"]
        pair_ratios["ferry_2w"].append(p["ferry_2w"]["rate"] / limit)
        pair_ratios["pool_2"].append(p["pool_2"]["rate"] / limit)
        pair_ratios["ferry_vs_pool"].append(p["ferry_2w"]["rate"] / p["pool_2"]["rate"])
    s["pair_ratios"] = pair_ratios
    s["ratio_2w_vs_2x_inprocess_bracketed"] = _med(pair_ratios["ferry_2w"])
    s["ratio_pool_vs_2x_inprocess_bracketed"] = _med(pair_ratios["pool_2"])
    s["ratio_2w_vs_pool_bracketed"] = _med(pair_ratios["ferry_vs_pool"])
    # The goal is judged on the bracketed pairs when the run has them (see run_pairs).
    goal_inproc = s["ratio_2w_vs_2x_inprocess_bracketed"]
    if goal_inproc is None:
        goal_inproc = s["ratio_2w_vs_2x_inprocess"]

    groups = (inp, pool, f1, f2, f10, ray, server, after)
    groups += tuple([p[k] for p in pairs] for k in ("inprocess", "ferry_2w", "pool_2"))
    sums = [r.get("checksum") for group in groups for r in _ok(group)]
    s["checksums_agree"] = len({c for c in sums if c is not None}) == 1 and None not in sums
    s["goals"] = {
        "ferry_2w >= 0.95 x 2 x in-process": _goal(goal_inproc, GOAL_VS_INPROC),
        # Like for like, per round: Ferry's job wall against Ray's map wall (each with its own
        # worker start-up, neither with its server or cluster start), and steady state against
        # steady state (neither with start-up); see bench/batch/README.md.
        "ferry_2w >= 1.5 x Ray Data, job wall vs map wall": _goal(
            s["ratio_2w_vs_ray_map_paired"], GOAL_VS_RAY
        ),
        "ferry_2w >= 1.5 x Ray Data, steady state vs steady state": _goal(
            s["ratio_2w_steady_vs_ray_steady_paired"], GOAL_VS_RAY
        ),
        "start-up (invoke -> first run()) <= 1 s": _goal(
            s["startup_median_s"], GOAL_STARTUP, lower_is_better=True
        ),
    }
    return s


def _goal(value: float | None, target: float, *, lower_is_better: bool = False) -> dict[str, Any]:
    if value is None:
        return {"value": None, "target": target, "met": None}
    met = value <= target if lower_is_better else value >= target
    return {"value": value, "target": target, "met": met}


# -- Markdown ----------------------------------------------------------------------------------
def _f(value: float | None, fmt: str = "{:,.0f}") -> str:
    return "n/a" if value is None else fmt.format(value)


def _loads(runs: list[dict[str, Any]]) -> str:
    return ", ".join(f"{r['load'][0]:.1f}" for r in runs if "load" in r) or "n/a"


_CONTENDERS = [
    # label, round key, rate field
    ("In-process loop (the limit for 1 core)", "inprocess", "rate"),
    ("`multiprocessing.Pool(2)`, same chunks (what 2 cores give, no framework)", "pool_2", "rate"),
    ("Ferry engine, 1 worker (`run_job` wall)", "ferry_1w", "rate"),
    ("**Ferry engine, 2 workers (`run_job` wall)**", "ferry_2w", "rate"),
    ("Ferry engine, 2 workers, run again right after Ray", "ferry_2w_after_ray", "rate"),
    ("Ferry engine, 2 workers, steady state (first `run()` to last)", "ferry_2w", "steady_rate"),
    ("Ferry engine, 2 workers, mini_batch_size 10 (Azure's default)", "ferry_2w_mbs10", "rate"),
    ("Ferry server path, 2 workers (SDK invoke -> Completed)", "server_2w", "rate"),
    ("**Ray Data, ActorPoolStrategy(size=2), steady-state map**", "ray", "steady_rate"),
    ("Ray Data, map wall after `ray.init()` (dataset + actor start-up)", "ray", "map_rate"),
    ("Ray Data, end to end incl. `ray.init()`", "ray", "e2e_rate"),
]


def _contender_rows(res: dict[str, Any]) -> list[str]:
    rounds, s = res["rounds"], res["summary"]
    rows = []
    for label, key, field in _CONTENDERS:
        runs = rounds.get(key, [])
        rates = [r.get(field) for r in runs]
        ok = [v for v in rates if v is not None]
        per_round = ", ".join(_f(v) for v in rates) or "n/a"
        median = _f(_med(ok))
        if label.startswith("**"):
            median = f"**{median}**"
        rows.append(
            f"| {label} | {median} | {_f(max(ok) if ok else None)} | {per_round} | {_loads(runs)} |"
        )
        if key == "inprocess":
            rows.append(
                f"| 2 x in-process (the goal's limit for 2 cores) "
                f"| {_f(2 * (s['inprocess_rate'] or 0))} | | | |"
            )
    rows.append(f"\n`ray.init()` took {_f(s['ray_init_s'], '{:.1f}')} s (median).")
    return rows


def _pair_rows(res: dict[str, Any]) -> list[str]:
    pairs, s = res.get("pairs", []), res["summary"]
    if not pairs:
        return []
    rows = [
        f"The first goal is judged on {len(pairs)} bracketed pairs (`run_pairs` in run_bench.py):"
        " the in-process loop on half the items, then Ferry (2 workers) and `Pool(2)` on all of "
        "them (order alternating), then the in-process loop on the other half. Median of the "
        f"pairs: Ferry-2w **{_f(s['ratio_2w_vs_2x_inprocess_bracketed'], '{:.3f}')}** of "
        f"2 x in-process, Pool(2) {_f(s['ratio_pool_vs_2x_inprocess_bracketed'], '{:.3f}')}, "
        f"Ferry-2w / Pool(2) {_f(s['ratio_2w_vs_pool_bracketed'], '{:.3f}')}.",
        "",
        "| Pair | in-process items/s (halves) | Ferry-2w items/s | Pool(2) items/s "
        "| Ferry-2w / 2x in-process | Pool(2) / 2x in-process | 1-min load |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for i, p in enumerate(pairs, 1):
        inp, f2, pool = p["inprocess"], p["ferry_2w"], p["pool_2"]
        halves = ", ".join(_f(v) for v in inp["halves"])
        limit = 2 * inp["rate"]
        rows.append(
            f"| {i} | {_f(inp['rate'])} ({halves}) | {_f(f2.get('rate'))} | "
            f"{_f(pool.get('rate'))} | {_f(_div(f2.get('rate'), limit), '{:.3f}')} | "
            f"{_f(_div(pool.get('rate'), limit), '{:.3f}')} | {inp['load'][0]:.1f} |"
        )
    return rows


def markdown(res: dict[str, Any], json_name: str) -> str:
    s, m = res["summary"], res["meta"]
    reps = m["args"]["reps"]
    items = m["args"]["items"]
    mbs = m["args"]["mini_batch_size"]
    lines = [
        "# Batch bench: Ferry vs an in-process loop vs Ray Data",
        "",
        f"Run {m['started']} on {m['cpus']} CPUs (shared with other work), Python {m['python']}, "
        f"Ray {m['ray']}, Ferry at `{m['git_head']}`"
        + (
            f" plus {len(m['ferry_uncommitted'])} uncommitted file(s) in src/ferry"
            if m["ferry_uncommitted"]
            else ""
        )
        + f". Raw data: `{json_name}`. Bench time {m['bench_seconds']:.0f} s.",
        "",
        f"Workload: {items:,} files of 8 bytes; each item reads its file and spins "
        f"{m['iters_per_item']:,} LCG steps (calibrated to ~1 ms; in-process it took "
        f"{_f(s['inprocess_cpu_ms_per_item'], '{:.2f}')} ms of CPU per item). Ferry and Ray use "
        f"batches of {mbs}. Medians of {reps} rounds; a round runs every contender back to back.",
        "",
        f"Load average (1 min) at start {m['load_start'][0]:.1f}, at end {m['load_end'][0]:.1f}; "
        f"`uptime` at start: `{m['uptime_start']}`. What the numbers mean and where Ferry's time "
        "goes: `bench/batch/README.md`.",
        "",
        "| Contender | items/s (median) | best round | per round | 1-min load per round |",
        "|---|---:|---:|---|---|",
        *_contender_rows(res),
        "",
        f"Every contender produced the same scores: {'yes' if s['checksums_agree'] else 'NO'}.",
        "",
        "## Goals",
        "",
        "| Goal | Measured | Met |",
        "|---|---:|---|",
    ]
    for name, g in s["goals"].items():
        fmt = "{:.2f} s" if "start-up" in name else "{:.2f}x"
        met = {True: "yes", False: "**no**", None: "n/a"}[g["met"]]
        lines.append(f"| {name} | {_f(g['value'], fmt)} | {met} |")
    lines += ["", *_pair_rows(res)]
    lines += [
        "",
        "| Ratio | Value |",
        "|---|---:|",
        f"| Ferry-2w / (2 x in-process), ratio of medians | "
        f"{_f(s['ratio_2w_vs_2x_inprocess'], '{:.2f}')} |",
        f"| Ferry-2w / (2 x in-process), median of per-round ratios | "
        f"{_f(s['ratio_2w_vs_2x_inprocess_paired'], '{:.2f}')} |",
        f"| Pool(2) / (2 x in-process), per-round: the machine's own scaling right now | "
        f"{_f(s['ratio_pool_vs_2x_inprocess'], '{:.2f}')} |",
        f"| Ferry-2w / Pool(2), per-round: Ferry against the bare standard library | "
        f"{_f(s['ratio_2w_vs_pool'], '{:.2f}')} |",
        f"| Ferry-2w / (2 x in-process), best round of each (least disturbed by other work) | "
        f"{_f(s['ratio_best_2w_vs_2x_inprocess'], '{:.2f}')} |",
        f"| Ferry-1w / in-process | {_f(s['ratio_1w_vs_inprocess'], '{:.2f}')} |",
        f"| Ferry-2w / Ray Data steady-state | {_f(s['ratio_2w_vs_ray_steady'], '{:.2f}')} |",
        f"| Ferry-2w / Ray Data steady-state, per-round (Ferry: mean of the runs around Ray) | "
        f"{_f(s['ratio_2w_vs_ray_steady_paired'], '{:.2f}')} |",
        f"| Ferry-2w steady / Ray Data steady, per-round | "
        f"{_f(s['ratio_2w_steady_vs_ray_steady_paired'], '{:.2f}')} |",
        f"| Ferry-2w / Ray Data map wall, per-round | "
        f"{_f(s['ratio_2w_vs_ray_map_paired'], '{:.2f}')} |",
        f"| Ferry-2w / Ray Data steady-state, best round of each | "
        f"{_f(s['ratio_best_2w_vs_ray_steady'], '{:.2f}')} |",
        f"| Ferry-2w steady / Ray Data steady | "
        f"{_f(s['ratio_2w_steady_vs_ray_steady'], '{:.2f}')} |",
        f"| Ferry-2w / Ray Data map wall | {_f(s['ratio_2w_vs_ray_map'], '{:.2f}')} |",
        f"| Ferry-2w / Ray Data end to end | {_f(s['ratio_2w_vs_ray_e2e'], '{:.2f}')} |",
        f"| Ferry server path / Ferry engine (2w), per-round | "
        f"{_f(s['ratio_server_vs_engine_2w'], '{:.2f}')} |",
        "",
        "## Where Ferry's time goes (2 workers, medians)",
        "",
    ]
    tl = s["ferry_2w_timeline"]
    lines += [
        f"- `run_job` wall {_f(s['ferry_2w_wall_s'], '{:.2f}')} s = head "
        f"{_f(tl['head_s'], '{:.3f}')} s (plan, start workers, `init()`, first hand-over) + "
        f"steady {_f(tl['steady_s'], '{:.2f}')} s + tail {_f(tl['tail_s'], '{:.3f}')} s "
        "(assemble output, reports, worker shutdown).",
        f"- Head in detail: plan stored and journal opened at {_f(s['ferry_2w_plan_s'], '{:.3f}')}"
        f" s; first worker's `init()` at {_f(tl['first_init_s'], '{:.3f}')} s (process spawn, "
        f"imports, script load); first `run()` at {_f(tl['head_s'], '{:.3f}')} s.",
        f"- Inside the steady window: {_f(tl['gap_worker_s'], '{:.3f}')} worker-seconds idle "
        f"between `run()` calls, {_f(tl['early_end_worker_s'], '{:.3f}')} worker-seconds idle "
        "at the end (one worker finished its last batch before the other).",
        f"- CPU: workers {_f(s.get('ferry_2w_worker_cpu_ms_per_item'), '{:.3f}')} ms/item vs "
        f"{_f(s['inprocess_cpu_ms_per_item'], '{:.3f}')} ms/item in-process and "
        f"{_f(s.get('pool_2_cpu_ms_per_item'), '{:.3f}')} ms/item in Pool(2) (two busy vCPUs "
        "slow each other down); engine "
        f"{_f(s.get('ferry_2w_engine_cpu_ms_per_item'), '{:.4f}')} ms/item "
        f"({_f(s.get('ferry_2w_mbs10_engine_cpu_ms_per_item'), '{:.4f}')} with mini-batches "
        f"of 10). Ferry got {_f(s.get('ferry_2w_cores_used'), '{:.2f}')} of 2 cores, Pool(2) "
        f"{_f(s.get('pool_2_cores_used'), '{:.2f}')}; the in-process loop got "
        f"{_f(s['inprocess_cpu_over_wall'], '{:.2f}')} of 1 (less than 1 means other work "
        "took the CPU).",
        f"- Server path adds head {_f(s['server_2w_timeline']['head_s'], '{:.3f}')} s (invoke to "
        f"first `run()`) and tail {_f(s['server_2w_timeline']['tail_s'], '{:.3f}')} s (last "
        "`run()` to the server's `ended_at`); the server process used "
        f"{_f(s.get('server_2w_cpu_s'), '{:.2f}')} s of CPU during the job (HTTP and engine).",
        "",
        "## Start-up: SDK invoke -> first `run()` (warm server, `ferry:server-python`)",
        "",
        f"Median {_f(s['startup_median_s'], '{:.3f}')} s over "
        f"{len(s['startup_first_run_s'])} runs "
        f"({', '.join(f'{v:.3f}' for v in s['startup_first_run_s'])}). Medians of the steps, "
        f"seconds after the invoke call: invoke returned {_f(s['startup_invoke_rtt_s'], '{:.3f}')}"
        f", job.json written (prepared) {_f(s['startup_prepared_s'], '{:.3f}')}, plan stored "
        f"{_f(s['startup_planned_s'], '{:.3f}')}, worker `init()` "
        f"{_f(s['startup_first_init_s'], '{:.3f}')}, first `run()` "
        f"{_f(s['startup_median_s'], '{:.3f}')}, Completed recorded (`ended_at`) "
        f"{_f(s['startup_completed_seen_s'], '{:.3f}')}.",
        "",
    ]
    if "million_engine_total_s" in s:
        n = res["million"]["items"]
        lines += [
            f"## Planning and tracking {n:,} files (empty files, trivial `run()`, "
            "mini_batch_size 1000, 2 workers)",
            "",
            "| Path | Planning s | Total s | Peak RSS |",
            "|---|---:|---:|---|",
            f"| Engine (`run_job` in its own process) | "
            f"{_f(s['million_engine_plan_s'], '{:.1f}')} | "
            f"{_f(s['million_engine_total_s'], '{:.1f}')} | engine "
            f"{_f(s['million_engine_peak_rss_mb'], '{:.0f}')} MB, largest worker "
            f"{_f(s['million_worker_peak_rss_mb'], '{:.0f}')} MB |",
            f"| Server (invoke -> Completed; engine in the server) | "
            f"{_f(s['million_server_plan_s'], '{:.1f}')} (plan stored, after invoke) | "
            f"{_f(s['million_server_total_s'], '{:.1f}')} | server VmHWM "
            f"{_f(s['million_server_hwm_mb'], '{:.0f}')} MB (idle before: "
            f"{_f(s['million_server_rss_before_mb'], '{:.0f}')} MB) |",
            "",
            f"States: {', '.join(str(x) for x in s['million_completed'])}. Engine CPU "
            f"{_f(s['million_engine_cpu_s'], '{:.1f}')} s; server CPU during the job "
            f"{_f(s.get('million_server_cpu_s'), '{:.1f}')} s (its engine thread included).",
            "",
        ]
    prof = res.get("profile", {})
    for label, p in prof.items():
        lines += [
            f"### cProfile of the engine process: {label} (wall {_f(p.get('wall_s'), '{:.1f}')} s "
            "under the profiler)",
            "",
            "```",
            *p["top_tottime"],
            "```",
            "",
        ]
    return "\n".join(lines)
