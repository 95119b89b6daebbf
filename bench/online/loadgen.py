"""Closed-loop HTTP load: N kept-alive connections each POST the same body for D seconds.

Two clients give the same result record (requests, ok, req/s, p50/p90/p99 in microseconds):

* ``wrk`` (Debian's ``apt-get install -y wrk``), one thread, the numbers taken in a Lua ``done``
  hook from wrk's own latency histogram. It is the default: on 2 cores, a load generator that
  costs little CPU leaves the cores to the servers under test.
* an asyncio + httpx client (``python loadgen.py --url ...``), one client and connection per
  worker, run in its own process. It is the fallback when wrk is missing (``--client httpx``).
  It costs about 500 µs of CPU per request (wrk: about 12), so on this machine it tops out near
  1,800 req/s: past that it measures itself, not the server.

A server may close a connection after each answer (gunicorn's sync workers, which azmlinfsrv
uses, always do); both clients then reconnect, and that cost is part of what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["have_wrk", "run_load"]

_LUA = """
wrk.method = "POST"
wrk.body = %(body)s
%(headers)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,' ..
    '"mean_us":%%.1f,"max_us":%%d,"connect_errors":%%d,"read_errors":%%d,' ..
    '"write_errors":%%d,"status_errors":%%d,"timeouts":%%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max, e.connect, e.read, e.write,
    e.status, e.timeout))
end
"""


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wrk(url: str, body: bytes, headers: dict[str, str], conns: int, seconds: int) -> Any:
    lines = "\n".join(
        f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items()
    )
    script = _LUA % {"body": _lua_string(body.decode()), "headers": lines}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        cpu0 = _children_cpu()
        # The socket timeout is well above any latency seen here: a timeout is an error, not
        # a slow answer that silently drops out of the histogram.
        proc = subprocess.run(
            ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s", "-s", f.name, url],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
        cpu = _children_cpu() - cpu0
    finally:
        Path(f.name).unlink()
    found = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout[-500:]}{proc.stderr}")
    raw = json.loads(found[-1])
    errors = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    wall = raw["duration_us"] / 1e6
    return {
        "client": "wrk",
        "requests": raw["requests"],
        "ok": raw["requests"] - raw["status_errors"],
        "non_2xx": raw["status_errors"],
        "socket_errors": errors,
        "wall_s": wall,
        "rps": (raw["requests"] - raw["status_errors"]) / wall,
        "p50_us": raw["p50_us"],
        "p90_us": raw["p90_us"],
        "p99_us": raw["p99_us"],
        "mean_us": raw["mean_us"],
        "max_us": raw["max_us"],
        "client_cpu_s": cpu,
    }


def _httpx(url: str, body: bytes, headers: dict[str, str], conns: int, seconds: float) -> Any:
    with tempfile.NamedTemporaryFile("wb", delete=False) as f:
        f.write(body)
    try:
        cpu0 = _children_cpu()
        argv = [sys.executable, __file__, "--url", url, "--body-file", f.name]
        argv += ["-c", str(conns), "-d", str(seconds), "--headers", json.dumps(headers)]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
        cpu = _children_cpu() - cpu0
    finally:
        Path(f.name).unlink()
    if proc.returncode != 0:
        raise RuntimeError(f"the httpx load generator failed: {proc.stderr[-800:]}")
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    result["client_cpu_s"] = cpu
    return result


def run_load(
    url: str,
    body: bytes,
    headers: dict[str, str],
    conns: int,
    seconds: int,
    client: str = "wrk",
) -> dict[str, Any]:
    """One closed-loop run; returns the result record (see the module docstring)."""
    run = _wrk if client == "wrk" else _httpx
    result: dict[str, Any] = run(url, body, headers, conns, seconds)
    result["concurrency"] = conns
    result["load"] = list(os.getloadavg())
    return result


# -- the httpx client, in its own process ---------------------------------------------------
async def _httpx_main(
    url: str, body: bytes, headers: dict[str, str], conns: int, secs: float
) -> dict[str, Any]:
    import httpx

    # One client (one kept-alive connection) per worker: a shared pool of many connections
    # slows httpx down as concurrency grows (16 connections: ~10x fewer req/s than 1).
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(limits=limits, timeout=10.0) for _ in range(conns)]
    latencies: list[float] = []
    codes: dict[int, int] = {}
    errors = 0
    start = time.perf_counter()  # after the clients exist: making one costs milliseconds
    deadline = start + secs

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while True:
            t0 = time.perf_counter()
            if t0 >= deadline:
                return
            try:
                response = await client.post(url, content=body, headers=headers)
            except httpx.HTTPError:
                errors += 1
                continue
            latencies.append(time.perf_counter() - t0)
            codes[response.status_code] = codes.get(response.status_code, 0) + 1

    await asyncio.gather(*(worker(client) for client in clients))
    wall = time.perf_counter() - start
    for client in clients:
        await client.aclose()
    latencies.sort()
    ok = codes.get(200, 0)

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e6 if latencies else 0

    return {
        "client": "httpx",
        "requests": len(latencies),
        "ok": ok,
        "non_2xx": len(latencies) - ok,
        "socket_errors": errors,
        "wall_s": wall,
        "rps": ok / wall,
        "p50_us": pct(0.50),
        "p90_us": pct(0.90),
        "p99_us": pct(0.99),
        "mean_us": statistics.fmean(latencies) * 1e6 if latencies else 0,
        "max_us": latencies[-1] * 1e6 if latencies else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--headers", default="{}", help="a JSON object")
    parser.add_argument("-c", type=int, default=1, help="connections (concurrency)")
    parser.add_argument("-d", type=float, default=3.0, help="seconds")
    args = parser.parse_args()
    body = Path(args.body_file).read_bytes()
    main_coro = _httpx_main(args.url, body, json.loads(args.headers), args.c, args.d)
    try:
        import uvloop  # the same loop the servers use, when it is there

        result = uvloop.run(main_coro)
    except ImportError:
        result = asyncio.run(main_coro)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
