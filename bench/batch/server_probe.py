"""The full server path, measured from the SDK: deploy, invoke, wait to Completed.

Usage: ``python server_probe.py CONFIG_JSON``; prints one JSON object. The config says which
parts to run (each key optional):

* ``throughput``: ``{"data", "reps", "times_root"}``: invoke the 10k-item folder ``reps`` times
  (in place, ``file://``) and wait for Completed; the end is the server's ``ended_at``, so the
  SDK's default 0.5 s poll loses no precision and this process stays off the CPU;
* ``startup``: ``{"data", "runs", "stamp_root"}``: one warm-up invoke, then ``runs`` invokes of a
  tiny folder; the driver stamps its first ``run()`` (see ``driver.py``);
* ``million``: ``{"data"}``: one invoke of the 1M-file folder, sampling the server's RSS.

Every part uses one fresh workspace and one server, started here and stopped at the end. The
deployment runs in the server's interpreter (``ferry:server-python``: a warm environment).
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ferry import BatchDeployment, BatchEndpoint, Input, MLClient, Model
from ferry.local_workspace.launcher import server_status, stop_server
from ferry.specs.batch import BatchDeploymentSettings, BatchRetrySettings, CodeConfigurationSpec

ENDPOINT = "bench-endpoint"


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _deploy(client: MLClient, cfg: dict[str, Any], env: dict[str, str]) -> None:
    model = Path(cfg["workdir"]) / "model.bin"
    model.write_bytes(b"bench")
    client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=ENDPOINT))
    deployment = BatchDeployment(
        name="bench",
        endpoint_name=ENDPOINT,
        model=Model(name="bench-model", path=str(model)),
        code_configuration=CodeConfigurationSpec(code=cfg["code"], scoring_script="driver.py"),
        environment="ferry:server-python",
        settings=BatchDeploymentSettings(
            mini_batch_size=cfg["mini_batch_size"],
            max_concurrency_per_instance=cfg["workers"],
            environment_variables=env,
            retry_settings=BatchRetrySettings(timeout=300),
        ),
    )
    client.batch_deployments.begin_create_or_update(deployment, set_default=True)


def _invoke(client: MLClient, data: str, env: dict[str, str] | None = None) -> tuple[str, float]:
    overrides = [{"environment_variables": env}] if env is not None else None
    t = time.time()
    job = client.batch_endpoints.invoke(
        endpoint_name=ENDPOINT,
        input=Input(type="uri_folder", path=data),
        in_place=True,
        params_override=overrides,
    )
    return job.name, t


def _stamp(ended: datetime | str | None) -> float:
    """The server's ``ended_at`` (the SDK gives a datetime; older ones a string) as a timestamp."""
    if ended is None:
        return time.time()
    return (ended if isinstance(ended, datetime) else datetime.fromisoformat(ended)).timestamp()


def _wait(client: MLClient, name: str, poll: float = 0.5) -> tuple[str, float, str | None]:
    """Wait for the end; returns the state, when the server recorded it (``ended_at``, so a
    slow poll that spares the CPU costs no precision) and the error."""
    done = client.jobs.wait(name, timeout=1800, poll=poll)
    ended = getattr(done, "ended_at", None)
    t = _stamp(ended)
    return done.status, t, done.error


def _cpu_s(pid: int) -> float:
    """utime + stime of the server process (all its threads: HTTP and the engine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _throughput(client: MLClient, pid: int, cfg: dict[str, Any], part: dict[str, Any]) -> list[Any]:
    runs = []
    for rep in range(part["reps"]):
        times = Path(part["times_root"]) / f"server-r{rep}"
        times.mkdir(parents=True, exist_ok=True)
        env = {**cfg["env"], "BENCH_TIMES_DIR": str(times)}
        cpu0 = _cpu_s(pid)
        name, t0 = _invoke(client, part["data"], env)
        returned = time.time()
        state, t1, error = _wait(client, name)
        cpu1 = _cpu_s(pid)
        runs.append(
            {
                "job": name,
                "state": state,
                "error": error,
                "invoke_s": returned - t0,
                "total_s": t1 - t0,
                "server_cpu_s": cpu1 - cpu0,
                "t_invoke": t0,
                "t_done": t1,
                "times_dir": str(times),
                "load": list(os.getloadavg()),
            }
        )
    return runs


def _startup(client: MLClient, cfg: dict[str, Any], part: dict[str, Any]) -> list[Any]:
    stamps = Path(part["stamp_root"])
    stamps.mkdir(parents=True, exist_ok=True)
    runs = []
    for i in range(-1, part["runs"]):  # run -1 warms the server's code paths up
        first = stamps / f"first-{i}.txt"
        env = {**cfg["env"], "BENCH_FIRST_RUN_FILE": str(first)}
        name, t0 = _invoke(client, part["data"], env)
        rtt = time.time() - t0
        state, t1, error = _wait(client, name)
        if i < 0:
            continue
        folder = Path(cfg["workspace"]) / "blobstore" / "azureml" / name
        inits = [float(p.read_text()) for p in stamps.glob(f"first-{i}.txt.init-*")]
        first_run = float(first.read_text()) if first.is_file() else None
        runs.append(
            {
                "job": name,
                "state": state,
                "error": error,
                "invoke_rtt_s": rtt,
                "first_run_s": None if first_run is None else first_run - t0,
                "prepared_s": _mtime(folder / "job.json", t0),
                "planned_s": _mtime(folder / "state" / "plan" / "plan.json", t0),
                "first_init_s": (min(inits) - t0) if inits else None,
                "completed_seen_s": t1 - t0,
            }
        )
    return runs


def _mtime(path: Path, t0: float) -> float | None:
    return path.stat().st_mtime - t0 if path.exists() else None


def _million(client: MLClient, pid: int, part: dict[str, Any], cfg: dict[str, Any]) -> Any:
    before_rss = _status_kb(pid, "VmRSS") / 1024
    before_hwm = _status_kb(pid, "VmHWM") / 1024
    cpu0 = _cpu_s(pid)
    name, t0 = _invoke(client, part["data"], cfg["env"])
    peak_sampled = 0.0
    while True:
        job = client.jobs.get(name)
        peak_sampled = max(peak_sampled, _status_kb(pid, "VmRSS") / 1024)
        if job.finished:
            break
        time.sleep(0.25)
    ended = getattr(job, "ended_at", None)
    t1 = _stamp(ended)
    folder = Path(cfg["workspace"]) / "blobstore" / "azureml" / name
    return {
        "job": name,
        "state": job.status,
        "error": job.error,
        "items": (job.progress or {}).get("items_succeeded"),
        # when the engine (in the server) had stored the plan, after the invoke call
        "plan_s": _mtime(folder / "state" / "plan" / "plan.json", t0),
        "total_s": t1 - t0,
        "server_cpu_s": _cpu_s(pid) - cpu0,
        "server_rss_before_mb": before_rss,
        "server_hwm_before_mb": before_hwm,
        "server_rss_sampled_peak_mb": peak_sampled,
        "server_hwm_after_mb": _status_kb(pid, "VmHWM") / 1024,
        "load": list(os.getloadavg()),
    }


def main() -> int:
    cfg = json.loads(sys.argv[1])
    result: dict[str, Any] = {}
    t = time.time()
    client = MLClient(workspace=cfg["workspace"])
    try:
        info = server_status(client.settings)
        assert info is not None, "the server did not start"
        pid = int(info["pid"])
        result["server_start_s"] = time.time() - t
        t = time.time()
        _deploy(client, cfg, cfg["env"])
        result["deploy_s"] = time.time() - t
        if "throughput" in cfg:
            result["throughput"] = _throughput(client, pid, cfg, cfg["throughput"])
        if "startup" in cfg:
            result["startup"] = _startup(client, cfg, cfg["startup"])
        if "million" in cfg:
            result["million"] = _million(client, pid, cfg["million"], cfg)
        result["server_rss_mb"] = _status_kb(pid, "VmRSS") / 1024
        result["server_hwm_mb"] = _status_kb(pid, "VmHWM") / 1024
    finally:
        client.close()
        stop_server(client.settings)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
