"""How far the job page's live progress lags the engine, on a real server with real workers.

Runs a batch job of N items (each ``run()`` sleeps 20 ms per item, mini-batches of 2, 2 workers)
and follows the job page's event stream (``/studio/jobs/<job>/events``) the way the page does.
For each ``progress`` event, the lag is its arrival time minus the mtime of the ``progress.json``
it shows (the engine rewrites that file every 0.5 s and at every state change). Prints the
median, p95 and max lag, and the lag of the final state.

Usage: .venv/bin/python bench/studio/job_progress_lag.py [N]   (default 400)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from ferry import BatchDeployment, BatchEndpoint, MLClient, Model
from ferry.local_workspace.launcher import server_status, start_background, stop_server
from ferry.local_workspace.layout import WorkspaceLayout
from ferry.settings import Settings
from ferry.specs.batch import BatchDeploymentSettings, CodeConfigurationSpec

SCRIPT = """
import time

def init():
    pass

def run(mini_batch):
    time.sleep(0.02 * len(mini_batch))
    return [f"{item} ok" for item in mini_batch]
"""


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(workspace=root / "ws")
        start_background(settings)
        try:
            run(settings, root, n)
        finally:
            stop_server(settings)


def run(settings: Settings, root: Path, n: int) -> None:
    code = root / "code"
    code.mkdir()
    (code / "driver.py").write_text(SCRIPT)
    inputs = root / "inputs"
    inputs.mkdir()
    for i in range(n):
        (inputs / f"item-{i:05d}.txt").write_text(str(i))
    (root / "w.bin").write_bytes(b"w")
    with MLClient(settings=settings) as client:
        client.batch_endpoints.begin_create_or_update(BatchEndpoint(name="lag"))
        client.batch_deployments.begin_create_or_update(
            BatchDeployment(
                name="lag",
                endpoint_name="lag",
                model=Model(name="lag-model", path=str(root / "w.bin")),
                code_configuration=CodeConfigurationSpec(
                    code=str(code), scoring_script="driver.py"
                ),
                environment="ferry:server-python",
                settings=BatchDeploymentSettings(mini_batch_size=2, max_concurrency_per_instance=2),
            ),
            set_default=True,
        )
    info = server_status(settings)
    assert info is not None
    url = str(info["url"]).rstrip("/")
    token = WorkspaceLayout(settings.resolved_workspace).read_token()
    api = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, timeout=60) as http:
        body = {"input": {"type": "uri_folder", "path": f"file://{inputs}"}}
        job = http.post("/api/v1/batch-endpoints/lag/jobs", json=body, headers=api).json()["name"]
        code_path = http.post("/api/v1/studio/login-codes", headers=api).json()["path"]
        http.get(code_path, follow_redirects=True)
        progress = settings.resolved_workspace / "blobstore" / "azureml" / job / "progress.json"
        lags: list[float] = []
        last = 0.0
        with http.stream("GET", f"/studio/jobs/{job}/events") as stream:
            buffer = ""
            for chunk in stream.iter_text():
                buffer += chunk
                *blocks, buffer = buffer.split("\n\n")
                for block in blocks:
                    if block.startswith("event: progress") and progress.exists():
                        arrived = time.time()
                        last = arrived - progress.stat().st_mtime
                        lags.append(last)
                    if block.startswith("event: done"):
                        break
                else:
                    continue
                break
    lags.sort()
    p95 = lags[int(0.95 * (len(lags) - 1))]
    print(f"{n} items, {len(lags)} progress events pushed")
    print(
        f"lag behind progress.json: median {statistics.median(lags) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {lags[-1] * 1000:.0f} ms; final state {last * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
