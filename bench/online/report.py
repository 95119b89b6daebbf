"""Markdown for ``bench/results/online-latest.md`` from a run's JSON record."""

from __future__ import annotations

import os
import statistics
from typing import Any

__all__ = ["headline", "markdown"]


def _ms(us: float) -> str:
    return f"{us / 1000:.2f}"


def _yes(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def _at(table: dict[Any, Any], conns: int) -> Any:
    """A level of a summary table (int keys in memory, str keys once read back from JSON)."""
    return table.get(conns, table.get(str(conns)))


def _levels(table: dict[Any, Any]) -> list[int]:
    return sorted(int(c) for c in table)


def _split(entry: dict[str, Any], roles: tuple[str, ...]) -> str:
    """``user+sys`` CPU microseconds per request, summed over the roles that start so."""
    user = sum(v for k, v in entry["user_us_per_req"].items() if k.startswith(roles))
    system = sum(v for k, v in entry["sys_us_per_req"].items() if k.startswith(roles))
    return f"{user + system:.0f} ({user:.0f}+{system:.0f})"


def _client(entry: dict[str, Any]) -> float:
    return float(entry["cpu_us_per_req"].get("client", 0.0))


def _total(entry: dict[str, Any]) -> float:
    return float(sum(entry["cpu_us_per_req"].values()))


def headline(record: dict[str, Any]) -> str:
    g = record["goals"]
    ratios = ", ".join(f"c={c}: {r:.1f}x" for c, r in g["throughput_vs_azmlinfsrv"].items())
    batching = ", ".join(
        f"c={c}: {b['throughput_ratio']:.2f}x req/s, p99 {b['p99_ratio']:.2f}x"
        for c, b in g["batching"].items()
    )
    return (
        f"Ferry vs azmlinfsrv req/s: {ratios} (goal >= 2x: {_yes(g['throughput_met'])})\n"
        f"added p50 over in-process run() at c=1: {g['added_p50_ms']:.3f} ms "
        f"(goal <= 1 ms: {_yes(g['added_p50_met'])})\n"
        f"dynamic batching vs none (torch MLP): {batching} "
        f"(goal >= 3x and p99 <= 2x: {_yes(g['batching_met'])})"
    )


def _goal_lines(g: dict[str, Any]) -> list[str]:
    ratios = ", ".join(f"c={c}: {r:.2f}x" for c, r in g["throughput_vs_azmlinfsrv"].items())
    lines = [
        "| goal | measured | verdict |",
        "|---|---|---|",
        f"| Ferry >= 2x azmlinfsrv req/s | {ratios} | {_yes(g['throughput_met'])} |",
        f"| <= 1 ms added p50 over in-process run() (c=1) | {g['added_p50_ms']:.3f} ms "
        f"(azmlinfsrv: {g['added_p50_ms_azmlinfsrv']:.3f} ms) | {_yes(g['added_p50_met'])} |",
    ]
    for c, b in g["batching"].items():
        met = b["throughput_ratio"] >= 3 and b["p99_ratio"] <= 2
        lines.append(
            f"| batching >= 3x req/s with p99 <= 2x (c={c}) | {b['throughput_ratio']:.2f}x "
            f"req/s, p99 {b['p99_ratio']:.2f}x | {_yes(met)} |"
        )
    return lines


def _trivial_lines(record: dict[str, Any]) -> list[str]:
    summary, floors = record["summary"], record["floors"]
    ferry, azml, bare = summary["ferry"], summary["azmlinfsrv"], summary.get("bare", {})
    p50 = statistics.median(f["p50_us"] for f in floors["trivial_run"])
    p99 = statistics.median(f["p99_us"] for f in floors["trivial_run"])
    lines = [
        "## 1. Trivial score.py: Ferry (2 replicas) vs azmlinfsrv (WORKER_COUNT=2)",
        "",
        f"In-process `run()` (the floor): p50 {p50:.2f} µs, p99 {p99:.2f} µs. The control, "
        "`bare_asgi.py` on uvicorn (uvloop + httptools, 1 process, no replica), shows what "
        "Ferry's HTTP stack costs before the gateway does anything.",
        "",
        "| c | Ferry req/s | azmlinfsrv req/s | ratio | Ferry p50 | azml p50 | Ferry p99 | "
        "azml p99 | control req/s, p50 | load1 | others |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    errors = 0
    for c in _levels(ferry):
        f, a, b = _at(ferry, c), _at(azml, c), _at(bare, c)
        errors += sum(e["non_2xx"] + e["socket_errors"] for e in (f, a))
        control = f"{b['rps']:.0f}, {_ms(b['p50_us'])}" if b else "-"
        lines.append(
            f"| {c} | {f['rps']:.0f} ({f['rps_min']:.0f}-{f['rps_max']:.0f}) | {a['rps']:.0f} "
            f"({a['rps_min']:.0f}-{a['rps_max']:.0f}) | {f['rps'] / a['rps']:.2f}x | "
            f"{_ms(f['p50_us'])} | {_ms(a['p50_us'])} | {_ms(f['p99_us'])} | {_ms(a['p99_us'])} "
            f"| {control} | {f['load1']:.2f} | {f['others_cpu_share']:.2f} / "
            f"{a['others_cpu_share']:.2f} |"
        )
    lines += [
        "",
        "Latencies in ms. `others`: share of a core used by processes outside the bench during "
        f"the Ferry / azmlinfsrv runs. Non-2xx answers and socket errors over all of them: "
        f"{errors}.",
        "",
        "CPU per answered request, µs as total (user+system), median of the rounds, from "
        "/proc: Ferry's gateway (the server process) and its 2 replicas; azmlinfsrv's gunicorn "
        "master and its 2 sync workers; the control; the load generator.",
        "",
        "| c | Ferry gateway | Ferry replicas | azml master | azml workers | control | "
        "wrk (Ferry / azml / control) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in _levels(ferry):
        f, a, b = _at(ferry, c), _at(azml, c), _at(bare, c)
        lines.append(
            f"| {c} | {_split(f, ('gateway',))} | {_split(f, ('replica-',))} | "
            f"{_split(a, ('master',))} | {_split(a, ('worker-',))} | "
            f"{_split(b, ('server',)) if b else '-'} | {_client(f):.0f} / {_client(a):.0f} / "
            f"{_client(b) if b else 0:.0f} |"
        )
    return lines


def _mlp_lines(record: dict[str, Any]) -> list[str]:
    meta, summary, floors, g = record["meta"], record["summary"], record["floors"], record["goals"]
    single, batched = summary.get("mlp_single", {}), summary.get("mlp_batched", {})
    run1 = statistics.median(f["rate"] for f in floors["mlp_run"])
    run32 = statistics.median(f["rate"] for f in floors["mlp_run_batch32"]) * 32
    lines = [
        f"## 2. Torch MLP 256-{_hidden()}-{_hidden()}-10 behind Ferry, without and with dynamic "
        "batching",
        "",
        f"2 replicas, each with `torch.set_num_threads({meta['torch_threads_per_replica']})` "
        "and OMP_NUM_THREADS=1: two single-threaded replicas on two cores, no oversubscription. "
        f"Batched: `batching: {meta['batching']}` and max_concurrent_requests_per_instance "
        f"{meta['batched_max_concurrent_requests_per_instance']} (a replica holds the next batch "
        "while it scores one). Unbatched: max_concurrent_requests_per_instance 64.",
        "",
        f"In-process, one thread: `run()` {run1:.0f} items/s, `run_batch(32 items)` "
        f"{run32:.0f} items/s: batching gives the script alone {run32 / run1:.2f}x.",
        "",
        "| c | mode | req/s | p50 ms | p99 ms | mean batch | CPU µs/req gateway | replicas "
        "| wrk | cores busy | load1 | others |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    modes = [("single", single), ("batched", batched)]
    for key in sorted(k for k in summary if k.startswith("mlp_b") and k != "mlp_batched"):
        modes.append((f"batched, max_batch_size {key[5:]}", summary[key]))
    for c in _levels(single):
        for name, table in modes:
            e = _at(table, c)
            mean = f"{e['mean_batch']:.1f}" if e.get("mean_batch") else "-"
            lines.append(
                f"| {c} | {name} | {e['rps']:.0f} ({e['rps_min']:.0f}-{e['rps_max']:.0f}) | "
                f"{_ms(e['p50_us'])} | {_ms(e['p99_us'])} | {mean} | "
                f"{_split(e, ('gateway',))} | {_split(e, ('replica-',))} | {_client(e):.0f} | "
                f"{e['rps'] * _total(e) / 1e6:.2f} | {e['load1']:.2f} | "
                f"{e['others_cpu_share']:.2f} |"
            )
    lines += [
        "",
        "`cores busy` = req/s x CPU per request (gateway, replicas and wrk): what of the 2 "
        "cores the run used.",
        "",
    ]
    for c, b in g["batching"].items():
        s, t = _at(single, int(c)), _at(batched, int(c))
        lines.append(
            f"- c={c}: {b['throughput_ratio']:.2f}x req/s, p99 {b['p99_ratio']:.2f}x. CPU per "
            f"request, everything included: {_total(s):.0f} µs single, {_total(t):.0f} µs "
            f"batched, so {b['cpu_ratio']:.2f}x is the most batching can give while the 2 cores "
            "are the limit."
        )
    return lines


def _profile_lines(profiles: list[dict[str, Any]]) -> list[str]:
    out = [
        "## Profiles",
        "",
        "py-spy (`record --nonblocking --format raw`, 250 Hz) on the gateway and one replica "
        "while wrk loads the endpoint. Gateway with `--gil`: only samples where it held the "
        "GIL, so waiting in epoll, or for a core after waking, is left out; C code that keeps "
        "the GIL (uvloop's socket writes, httptools, json) shows at the Python line that "
        "called it, uvloop's own loop as `Runner.run`. Replica without `--gil` (torch and "
        "socket calls release it): there a replica woken from `recv` and queued for a core "
        "counts as busy in `_recv_exactly`. The CPU per request next to each is exact "
        "(/proc); the µs per layer spread it by the sample shares.",
        "",
    ]
    for p in profiles:
        cpu = ", ".join(f"{k} {v:.0f}" for k, v in p["cpu_us_per_req"].items())
        out += [
            f"### {p['target']} at c={p['concurrency']}: {p['rps']:.0f} req/s, "
            f"load {p['load'][0]:.2f}; CPU µs/request: {cpu}",
            "",
        ]
        for role, prof in p["profiles"].items():
            if not prof.get("samples"):
                out += [f"{role}: no samples ({prof.get('error', '')})", ""]
                continue
            out += [
                f"**{role}** ({prof['samples']} samples"
                f"{' holding the GIL' if role == 'gateway' else ', busy or runnable'})",
                "",
                "| self | function (file:line) | | by file | file |",
                "|---:|---|---|---:|---|",
            ]
            rows = max(len(prof["self"][:12]), len(prof["self_by_file"][:8]))
            for i in range(rows):
                fn = prof["self"][i] if i < len(prof["self"][:12]) else None
                fl = prof["self_by_file"][i] if i < len(prof["self_by_file"][:8]) else None
                left = f"{fn[1] * 100:.1f}% | `{fn[0]}`" if fn else " | "
                right = f"{fl[1] * 100:.1f}% | `{fl[0]}`" if fl else " | "
                out.append(f"| {left} | | {right} |")
            if prof.get("self_by_layer"):
                cpu_role = p["cpu_us_per_req"].get(role, 0.0)
                out += [
                    "",
                    f"By layer (self time; µs/request = share x the {cpu_role:.0f} µs of CPU "
                    "this process spent per request, an estimate):",
                    "",
                    "| share | ~µs/req | layer |",
                    "|---:|---:|---|",
                ]
                out += [
                    f"| {s * 100:.1f}% | {s * cpu_role:.0f} | {layer} |"
                    for layer, s in prof["self_by_layer"]
                    if s >= 0.005
                ]
            out += ["", "Inclusive, below the event loop's entry:", ""]
            out += [
                "; ".join(f"{s * 100:.0f}% `{f}`" for f, s in prof["inclusive"][:10]),
                "",
            ]
    return out


def _gc_lines(probe: dict[str, Any], seconds: int) -> list[str]:
    shipped = probe["shipped"].get("frozen_by_server") or 0
    lines = [
        "## GC probe: the gateway's collector, as shipped and with gc.freeze() by the probe",
        "",
        "Two more fresh Ferry servers run `bench/online/gc_server.py` (the server as shipped "
        "plus a `gc.callbacks` watcher); in the second the probe also calls `gc.collect(); "
        "gc.freeze()` once it answers, before any deployment "
        f"({probe['frozen'].get('frozen_by_probe') or 'n/a'}). The server as shipped had "
        f"{shipped:.0f} objects frozen by itself at start. Same deployments, same load; medians "
        f"of the rounds, {seconds} s each.",
        "",
        "| endpoint | c | GC | req/s | p50 ms | p99 ms | full collections per run | longest "
        "full pause ms | time in GC |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, conns in probe["plan"]:
        for label in ("shipped", "frozen"):
            m = probe[label]["median"][key]
            lines.append(
                f"| {key} | {conns} | {label} | {m['rps']:.0f} | "
                f"{_ms(m['p50_us'])} | {_ms(m['p99_us'])} | {m['full_collections']:.0f} | "
                f"{m['full_pause_max_ms']:.1f} | {m['gc_share'] * 100:.1f}% |"
            )
    medians = {label: probe[label]["median"] for label in ("shipped", "frozen")}
    if all("mlp_batched" in m and "mlp_single" in m for m in medians.values()):
        lines.append("")
        for label, m in medians.items():
            single, batched = m["mlp_single"], m["mlp_batched"]
            lines.append(
                f"- Batching, collector {label}: {batched['rps'] / single['rps']:.2f}x req/s, "
                f"p99 {batched['p99_us'] / single['p99_us']:.2f}x."
            )
    return lines


def markdown(record: dict[str, Any], json_name: str) -> str:
    meta, g = record["meta"], record["goals"]
    v = meta["versions"]
    lines = [
        f"# Online bench: Ferry vs azmlinfsrv ({meta['started']})",
        "",
        f"Raw numbers: `bench/results/{json_name}`. How to run, what is measured, and what "
        "the profiles say: `bench/online/README.md`.",
        "",
        f"- Machine: {meta['cpus']} CPUs, shared with other engineers. `uptime` at the start: "
        f"`{meta['uptime_start']}`; at the end: `{meta.get('uptime_end', '?')}`.",
        f"- Ferry {v.get('ferry')} (`{v.get('ferry_git')}`), azureml-inference-server-http "
        f"{v.get('azureml-inference-server-http')} (gunicorn {v.get('gunicorn')}, flask "
        f"{v.get('flask')}), uvicorn {v.get('uvicorn')}, torch {v.get('torch')}, Python "
        f"{v.get('python')}. Load: `{v.get('wrk', meta['client'])}`, client "
        f"`{meta['client']}`, 1 thread, kept-alive connections, 127.0.0.1 only.",
        *(
            [
                "- **The httpx client was used (wrk missing): it tops out near 1,800 req/s on "
                "2 cores, so throughput above that is the client's limit, not the server's.**"
            ]
            if meta["client"] == "httpx"
            else []
        ),
        f"- {meta['reps']} rounds of {meta['seconds']} s per level and contender, the order "
        "of contenders alternating; tables give the median of the rounds (req/s min-max in "
        "brackets).",
        "",
        "## Goals",
        "",
        *_goal_lines(g),
        "",
        *_trivial_lines(record),
        "",
        *_mlp_lines(record),
        "",
    ]
    if record.get("gc_probe"):
        lines += [*_gc_lines(record["gc_probe"], meta["seconds"]), ""]
    if record["profiles"]:
        lines += _profile_lines(record["profiles"])
    return "\n".join(lines) + "\n"


def _hidden() -> str:
    return os.environ.get("BENCH_MLP_HIDDEN", "1024")
