"""Two more Ray measurements on a local 2-node cluster: log lag, and input on an S3 datastore.

Usage: ``.venv/bin/python bench/ray/log_lag_and_data.py [--lag-seconds 20] [--items 2000]
[--pairs 3]``. Prints the measurements as JSON and writes
``bench/results/ray-lag-data-latest.json``. Nothing is asserted: the figures are reported.

* **Log lag.** A 4-item job, 2 workers, mini-batches of 1: each ``run()`` prints
  ``LAG <time.time()>`` with ``flush=True`` every 50 ms for half of ``--lag-seconds`` (each
  worker gets two mini-batches, so both print at once for about ``--lag-seconds``). While
  ``run_job`` runs it (in a thread of this process, which is the server's side of the Ray
  backend: its :class:`RayWorker` threads pull each actor's buffered output every
  ``LOG_PULL_SECONDS`` into ``logs/user/stdout/<worker>.txt``), the main thread reads those
  files every 10 ms and records, per line, the time it first saw the line minus the time
  printed in it. The same job on ``LocalCompute()`` (the worker's stdout is the log file
  itself) is the control: its lag is the 10 ms poll and the bench's own scheduling.
* **Data on S3.** ``bench/batch``'s 1 ms/item job (``driver.py``, files of 8 bytes, mini-batches
  of 100, 2 workers) on ``RayCompute``, its input either a local folder or the same files on an
  S3 datastore served by moto (``ThreadedMotoServer`` in its own process, as a separate service
  would be). The S3 job is built at the engine level as the server builds it (``server/jobs.py``,
  ``server/job_prepare.py``): a ``JobDefinition`` with ``input_listing`` (one
  ``azureml://datastores/<name>/paths/<key>`` URI a line, written before the clock starts, as
  Preparing does), ``datastores=[name]``, ``output_uri`` on that datastore, and
  ``secret_env={ACCESS_ENV: data_access(...)}``: each actor's data agent fetches each
  mini-batch's files from S3 and commits (here: nothing, the script writes no files) before the
  mini-batch is reported. A-B-B-A pairs; the ratio is S3 items/s over local-folder items/s.
  Beside them: one 100-item ``Datastore.fetch`` from this process (the agent's per-mini-batch
  work without Ray), and the CPU seconds moto's process used per S3 job (moto shares the cores).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "batch"))

from contenders import checksum, code_folder, job_folder, log, make_items  # noqa: E402
from driver import calibrate  # noqa: E402

from ferry.backends.local import LocalCompute  # noqa: E402
from ferry.batch.definition import JobDefinition  # noqa: E402
from ferry.batch.engine import run_job  # noqa: E402
from ferry.specs.workspace import DatastoreSpec  # noqa: E402
from ferry.workers.data_agent import ACCESS_ENV, data_access  # noqa: E402

LAG_SCRIPT = """
import os
import time

def init():
    pass

def run(mini_batch):
    end = time.time() + float(os.environ["LAG_SECONDS"])
    lines = 0
    while time.time() < end:
        print(f"LAG {time.time():.6f}", flush=True)
        lines += 1
        time.sleep(0.05)
    return [f"{os.path.basename(p)} {lines}" for p in mini_batch]
"""
STORE = "s3bench"
BUCKET = "ferry-bench"
REGION = "us-east-1"
CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing-secret"}
POLL_S = 0.010


# -- log lag -----------------------------------------------------------------------------------
def follow_logs(folder: Path, done: threading.Event) -> list[float]:
    """Lag of every ``LAG <t>`` line that appears under ``folder`` until ``done`` is set (and
    one last read after it): the time the line was first seen minus ``t``."""
    offsets: dict[Path, int] = {}
    partial: dict[Path, bytes] = {}
    lags: list[float] = []

    def read_all() -> None:
        for path in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
            with path.open("rb") as f:
                f.seek(offsets.get(path, 0))
                data = f.read()
            if not data:
                continue
            seen = time.time()
            offsets[path] = offsets.get(path, 0) + len(data)
            *lines, partial[path] = (partial.get(path, b"") + data).split(b"\n")
            for line in lines:
                if line.startswith(b"LAG "):
                    lags.append(seen - float(line.split()[1]))

    while not done.is_set():
        read_all()
        time.sleep(POLL_S)
    read_all()
    return lags


def summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"lines": 0}
    ordered = sorted(values)
    return {
        "lines": len(ordered),
        "median_s": statistics.median(ordered),
        "p95_s": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "max_s": ordered[-1],
        "min_s": ordered[0],
    }


def log_lag(work: Path, small: str, compute: Any, name: str, seconds: float) -> dict[str, Any]:
    code = work / "lag-code"
    code.mkdir(parents=True, exist_ok=True)
    (code / "driver.py").write_text(LAG_SCRIPT, encoding="utf-8")
    # 4 mini-batches of seconds/2 each: the first ready worker takes 2 (one queued behind the
    # other), the second the other 2, so both print at once for about ``seconds``.
    job = job_folder(work / "jobs" / f"lag-{name}", code, small, workers=2, mbs=1, iters=0,
                     env={"LAG_SECONDS": str(seconds / 2)})  # fmt: skip
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def engine() -> None:
        try:
            outcome["state"] = str(run_job(job, compute=compute).state)
        finally:
            done.set()

    load = os.getloadavg()
    thread = threading.Thread(target=engine, name=f"engine-{name}")
    thread.start()
    lags = follow_logs(job / "logs" / "user" / "stdout", done)
    thread.join()
    per_worker = {
        p.stem: sum(1 for line in p.read_bytes().splitlines() if line.startswith(b"LAG "))
        for p in sorted((job / "logs" / "user" / "stdout").glob("*.txt"))
    }
    return {
        "state": outcome.get("state"),
        "load_average": load,
        **summary(lags),
        "lines_per_worker": per_worker,
    }


# -- data on S3 --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_moto(port: int) -> subprocess.Popen[bytes]:
    """moto's S3 in its own process (a separate service, as S3 is), serving until killed."""
    code = (
        "import threading\n"
        "from moto.server import ThreadedMotoServer\n"
        f"ThreadedMotoServer(ip_address='127.0.0.1', port={port}, verbose=False).start()\n"
        "threading.Event().wait()\n"
    )
    # Its request log (one line per GET) is not the bench's output.
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return proc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"moto did not listen on port {port} within 30 s")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def upload(endpoint: str, paths: list[str]) -> None:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["access_key_id"],
        aws_secret_access_key=CREDENTIALS["secret_access_key"],
    )
    s3.create_bucket(Bucket=BUCKET)
    for path in paths:
        s3.put_object(Bucket=BUCKET, Key=f"items/{Path(path).name}", Body=Path(path).read_bytes())


def s3_job(root: Path, code: Path, paths: list[str], iters: int) -> Path:
    """The 1 ms/item job over the items on the S3 datastore, as Preparing writes it."""
    job = job_folder(root, code, f"azureml://datastores/{STORE}/paths/items", workers=2,
                     mbs=100, iters=iters)  # fmt: skip
    listing = root / "input-listing.txt"
    listing.write_text(
        "".join(f"azureml://datastores/{STORE}/paths/items/{Path(p).name}\n" for p in paths),
        encoding="utf-8",
    )
    definition = JobDefinition.load(job / "job.json")
    dataclasses.replace(
        definition,
        input_listing=str(listing),
        datastores=[STORE],
        output_uri=f"azureml://datastores/{STORE}/paths/azureml/{root.name}/score",
    ).save(job / "job.json")
    return job


def access(endpoint: str) -> str:
    spec = DatastoreSpec(name=STORE, type="s3", bucket=BUCKET, endpoint_url=endpoint,
                         region=REGION)  # fmt: skip
    stored = spec.model_dump(exclude={"schema_uri", "credentials"})
    return data_access(
        {STORE: (stored, dict(CREDENTIALS))},
        f"azureml://datastores/{STORE}/paths/azureml/bench/score",
    )


def fetch_times(endpoint: str, paths: list[str], rounds: int = 5) -> dict[str, Any]:
    """Seconds one 100-item fetch takes through the datastore from this process (what an agent
    does per mini-batch), without Ray or a worker: median and all of ``rounds``."""
    from ferry.datastore import open_datastore

    spec = DatastoreSpec(name=STORE, type="s3", bucket=BUCKET, endpoint_url=endpoint,
                         region=REGION)  # fmt: skip
    store = open_datastore(spec, dict(CREDENTIALS))
    walls = []
    for r in range(rounds):
        rels = [f"items/{Path(p).name}" for p in paths[r * 100 : (r + 1) * 100]]
        with tempfile.TemporaryDirectory() as dest:
            t0 = time.perf_counter()
            store.fetch(rels, Path(dest))
            walls.append(time.perf_counter() - t0)
    return {"items": 100, "median_s": statistics.median(walls), "all_s": walls}


def data_pairs(
    work: Path, ray_compute: Any, endpoint: str, moto_pid: int, paths: list[str], pairs: int
) -> dict[str, Any]:
    code = code_folder(work)
    iters = calibrate()
    log(f"data: {len(paths)} items, {iters} iterations each (~1 ms)")
    secret = {ACCESS_ENV: access(endpoint)}
    found, sums, moto_cpu = [], [], []
    for i in range(pairs):
        order = ["local", "s3", "s3", "local"] if i % 2 == 0 else ["s3", "local", "local", "s3"]
        walls: dict[str, list[float]] = {"local": [], "s3": []}
        for j, name in enumerate(order):
            root = work / "jobs" / f"data-{i}-{j}-{name}"
            if name == "s3":
                job = s3_job(root, code, paths, iters)
            else:
                job = job_folder(root, code, str(work / "items"), workers=2, mbs=100, iters=iters)
            cpu0 = cpu_seconds(moto_pid)
            t0 = time.perf_counter()
            outcome = run_job(job, compute=ray_compute, secret_env=secret if name == "s3" else None)
            wall = time.perf_counter() - t0
            if name == "s3":  # moto shares the 2 cores with the workers: what it took of them
                moto_cpu.append(cpu_seconds(moto_pid) - cpu0)
            assert outcome.progress.items_succeeded == len(paths), (name, outcome)
            sums.append(checksum(job / "named-outputs" / "score" / "predictions.csv"))
            walls[name].append(wall)
            log(f"data pair {i} {name}: {wall:.2f} s (load {os.getloadavg()[0]:.1f})")
        local, s3 = statistics.mean(walls["local"]), statistics.mean(walls["s3"])
        found.append({"local_s": local, "s3_s": s3, "s3_over_local": local / s3})
    return {
        "items": len(paths),
        "workers": 2,
        "mini_batch_size": 100,
        "local_folder_items_per_s": len(paths) / statistics.median(p["local_s"] for p in found),
        "s3_items_per_s": len(paths) / statistics.median(p["s3_s"] for p in found),
        "s3_over_local_median": statistics.median(p["s3_over_local"] for p in found),
        "pairs": found,
        "moto_cpu_s_per_s3_run": moto_cpu,
        "checksums_agree": len(set(sums)) == 1 and None not in sums,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lag-seconds", type=float, default=20.0)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--skip", choices=["lag", "data"], action="append", default=[])
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "ferry-bench-lag"))
    args = parser.parse_args()
    os.environ["RAY_AUTH_MODE"] = "disabled"
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    cache = tempfile.mkdtemp(prefix="ray-cache-", dir=work.parent)
    os.environ["FERRY_RAY_CACHE"] = cache  # the nodes inherit it

    from ray.cluster_utils import Cluster

    from ferry.backends.ray import LOG_PULL_SECONDS, RayCompute

    log("starting a head and a worker node, one CPU each")
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    moto: subprocess.Popen[bytes] | None = None
    results: dict[str, Any] = {
        "log_pull_seconds": LOG_PULL_SECONDS,
        "load_average_at_start": os.getloadavg(),
    }
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray_compute = RayCompute(cluster.address)
        small = str(work / "small")
        make_items(Path(small), 4)
        if "lag" not in args.skip:
            # A warm-up job first, so the measured one starts no actor and unpacks no code.
            log_lag(work, small, ray_compute, "warmup", 1.0)
            lag: dict[str, Any] = {}
            for name, compute in (("ray", ray_compute), ("local", LocalCompute())):
                lag[name] = log_lag(work, small, compute, name, args.lag_seconds)
                log(f"log lag {name}: {json.dumps(lag[name])}")
            results["log_lag"] = lag
        if "data" not in args.skip:
            paths = make_items(work / "items", args.items)
            port = free_port()
            moto = start_moto(port)
            endpoint = f"http://127.0.0.1:{port}"
            t0 = time.perf_counter()
            upload(endpoint, paths)
            log(f"uploaded {len(paths)} items to moto in {time.perf_counter() - t0:.1f} s")
            results["fetch_100_items"] = fetch_times(endpoint, paths)
            log(f"fetch of 100 items from this process: {json.dumps(results['fetch_100_items'])}")
            results["data"] = data_pairs(work, ray_compute, endpoint, moto.pid, paths, args.pairs)
    finally:
        import ray

        ray.shutdown()  # the driver first: Cluster refuses to remove the node it is connected to
        cluster.shutdown()
        if moto is not None:
            moto.kill()
            moto.wait()
        shutil.rmtree(cache, ignore_errors=True)
    results["load_average_at_end"] = os.getloadavg()
    print(json.dumps(results))
    out = HERE.parent / "results" / "ray-lag-data-latest.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
