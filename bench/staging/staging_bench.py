"""Invoke-to-Completed on a local folder against ``multiprocessing.Pool(2)``, and staging 1M files.

Usage (Ferry's own venv is enough): ``.venv/bin/python bench/staging/staging_bench.py
[--runs 5] [--items 10000] [--million 1000000] [--work /tmp/ferry-bench-staging]``.

Each run is bracketed: ``Pool(2)`` on the same 10,000 files and the same 1 ms scoring
(``bench/batch/driver.py``), then a plain ``batch_endpoints.invoke(input=Input(path=folder))``
(no ``in_place``: the folder is staged first) waited to Completed (the end is the server's
``ended_at``), then ``Pool(2)`` again; the ratio is Ferry's rate over the mean of the two Pools.
The staged inputs are removed before each run, so every run stages the folder afresh, by links
(the default on a local workspace) or, with ``--archive``, as a remote client does: hash, one
tar.gz upload, unpack. Then the 1M-file folder (empty files, 1000 per folder, made once) is
staged through ``POST /api/v1/staged-inputs``, cold and again (found by content), again with
and without the hash cache, interleaved, then the same under ``--burn`` busy processes. One server,
started here; its start and the deployment are not timed. ``--ab N`` then times, interleaved, the
old path (a data version from a tar.gz upload), links and one archive, cold. No assertions: see
README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "batch"))

import driver  # noqa: E402
from contenders import code_folder, log, make_items, make_million  # noqa: E402

from ferry import BatchDeployment, BatchEndpoint, Data, Input, MLClient, Model  # noqa: E402
from ferry.client.staging import InputStager  # noqa: E402
from ferry.local_workspace.launcher import stop_server  # noqa: E402
from ferry.local_workspace.layout import WorkspaceLayout  # noqa: E402
from ferry.services.staging import INPUT_FOLDER  # noqa: E402
from ferry.specs.batch import BatchDeploymentSettings, CodeConfigurationSpec  # noqa: E402

ENDPOINT = "stage-bench"


def _deploy(client: MLClient, work: Path, code: Path, iters: int, mbs: int) -> None:
    model = work / "model.bin"
    model.write_bytes(b"bench")
    client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=ENDPOINT))
    client.batch_deployments.begin_create_or_update(
        BatchDeployment(
            name="bench",
            endpoint_name=ENDPOINT,
            model=Model(name="stage-bench-model", path=str(model)),
            code_configuration=CodeConfigurationSpec(code=str(code), scoring_script="driver.py"),
            environment="ferry:server-python",
            settings=BatchDeploymentSettings(
                mini_batch_size=mbs,
                max_concurrency_per_instance=2,
                environment_variables={"BENCH_ITERS": str(iters)},
            ),
        ),
        set_default=True,
    )


def _invoke(client: MLClient, data: Path) -> dict[str, Any]:
    t0 = time.time()
    job = client.batch_endpoints.invoke(endpoint_name=ENDPOINT, input=Input(path=str(data)))
    returned = time.time()
    done = client.jobs.wait(job.name, timeout=1800)
    ended = getattr(done, "ended_at", None)
    if isinstance(ended, str):
        ended = datetime.fromisoformat(ended)
    t1 = ended.timestamp() if isinstance(ended, datetime) else time.time()
    return {
        "state": done.status,
        "error": done.error,
        "invoke_s": returned - t0,
        "total_s": t1 - t0,
    }


def _pool(data: Path, iters: int, chunk: int) -> dict[str, Any]:
    """``Pool(2)`` in a session of its own, as the server is (see pool_probe.py)."""
    probe = [sys.executable, str(HERE / "pool_probe.py"), str(data), str(iters), str(chunk)]
    done = subprocess.run(
        probe, capture_output=True, text=True, check=True, start_new_session=True, timeout=1800
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _stage(stager: InputStager, folder: Path) -> float:
    t0 = time.perf_counter()
    stager.stage(folder)
    return time.perf_counter() - t0


def _ab(client: MLClient, data: Path, staged: Path, reps: int) -> None:
    """Interleaved, so that drift hits all alike: the old path (a data version from a tar.gz
    upload, what invoke did before staging), links, and one archive as a remote client sends."""
    ways = {
        "data version upload (before)": lambda: client.data.create_or_update(
            Data(name="stage-bench-input", path=str(data), type="uri_folder")
        ),
        "staged by links": lambda: InputStager(client._transport, "link").stage(data),
        "staged by one archive": lambda: InputStager(client._transport, "archive").stage(data),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(reps):
        for name, way in ways.items():
            shutil.rmtree(staged, ignore_errors=True)  # cold: nothing staged before
            t0 = time.perf_counter()
            way()
            times[name].append(time.perf_counter() - t0)
    for name, values in times.items():
        if values:
            log(
                f"{data.name} ({len(list(data.iterdir())):,} files), {name}: median "
                f"{statistics.median(values) * 1e3:.0f} ms over {len(values)} "
                f"({', '.join(f'{v * 1e3:.0f}' for v in values)})"
            )


def _load() -> str:
    return "load " + " ".join(f"{v:.1f}" for v in os.getloadavg())


def _million(stager: InputStager, files: Path, staged: Path, workspace: Path, args: Any) -> None:
    """Cold (nothing staged, no hash cache), then again: with the hash cache (stat only) and
    without it (every file read, as before the cache), interleaved; then the same under
    ``--burn`` busy processes."""
    cache = WorkspaceLayout(workspace).hash_cache
    shutil.rmtree(staged, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    log(f"{args.million:,} files: cold ({_load()})")
    cold = _stage(stager, files)
    log(f"staging {args.million:,} files by links: {cold:.1f} s cold ({_load()})")

    def again(label: str) -> None:
        times: dict[str, list[float]] = {"hash cache": [], "no hash cache": []}
        for _ in range(args.warm_rounds):
            times["hash cache"].append(_stage(stager, files))
            shutil.rmtree(cache, ignore_errors=True)  # the next one reads every file
            times["no hash cache"].append(_stage(stager, files))
        for name, values in times.items():
            log(
                f"staging {args.million:,} files again (found by content), {name}, {label}: "
                f"{', '.join(f'{v:.1f}' for v in values)} s ({_load()})"
            )

    again("no extra load")
    if args.burn:
        burners = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.burn)
        ]
        try:
            time.sleep(20)  # let the 1-minute load average climb before the timed runs
            again(f"{args.burn} busy processes")
        finally:
            for burner in burners:
                burner.kill()
                burner.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--million", type=int, default=1_000_000, help="0 skips the 1M part")
    parser.add_argument("--mini-batch-size", type=int, default=100)
    parser.add_argument("--archive", action="store_true", help="stage as a remote client does")
    parser.add_argument("--ab", type=int, default=3, help="interleaved staging A/B rounds")
    parser.add_argument("--work", default="/tmp/ferry-bench-staging")
    parser.add_argument("--warm-rounds", type=int, default=2, help="1M: re-staging A/B rounds")
    parser.add_argument("--burn", type=int, default=4, help="1M: busy processes for the loaded A/B")
    args = parser.parse_args()
    work = Path(args.work)
    code = code_folder(work)
    data = work / f"items-{args.items}"
    make_items(data, args.items)
    iters = sorted(driver.calibrate() for _ in range(3))[1]
    workspace = work / "ws"
    shutil.rmtree(workspace, ignore_errors=True)
    # The hash cache is opt-in; the server this client starts inherits the setting.
    os.environ["FERRY_STAGING_HASH_CACHE"] = "1"
    client = MLClient(workspace=str(workspace))
    if args.archive:
        client = MLClient(settings=client.settings.model_copy(update={"input_staging": "archive"}))
    staged = workspace / "blobstore" / INPUT_FOLDER
    mode = "archive" if args.archive else "link"
    try:
        _deploy(client, work, code, iters, args.mini_batch_size)
        ratios = []
        for i in range(args.runs):
            shutil.rmtree(staged, ignore_errors=True)  # stage afresh each run
            before = _pool(data, iters, args.mini_batch_size)
            ferry = _invoke(client, data)
            after = _pool(data, iters, args.mini_batch_size)
            if ferry["state"] != "Completed":
                log(f"run {i + 1}: job {ferry['state']}: {ferry['error']}")
                continue
            pool_rate = (before["rate"] + after["rate"]) / 2
            rate = args.items / ferry["total_s"]
            ratios.append(rate / pool_rate)
            log(
                f"run {i + 1} ({mode}): invoke-to-Completed {ferry['total_s']:.2f} s ({rate:.0f}/s)"
                f", of which invoke (staging + submit) {ferry['invoke_s'] * 1e3:.0f} ms; Pool(2) "
                f"{before['wall_s']:.2f} and {after['wall_s']:.2f} s; ratio {ratios[-1]:.3f}"
            )
        if ratios:
            log(
                f"Ferry invoke-to-Completed / Pool(2), {args.items:,} local files, staged by "
                f"{mode}, {len(ratios)} bracketed runs: median {statistics.median(ratios):.3f}, "
                f"mean {statistics.fmean(ratios):.3f}"
            )
        stager = InputStager(client._transport, "archive" if args.archive else "link")
        again = _stage(stager, data)
        log(f"re-staging the {args.items:,}-file folder (found by content): {again * 1e3:.0f} ms")
        _ab(client, data, staged, args.ab)
        if args.million:
            files = make_million(work / "million", args.million)
            _million(stager, files, staged, workspace, args)
    finally:
        client.close()
        stop_server(client.settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
