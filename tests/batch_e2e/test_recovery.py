"""A server killed mid-job carries on with the job after a restart, with exactly-once output."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pandas as pd

from ferry import BatchDeployment, BatchEndpoint, Input, MLClient, Model
from ferry.launcher import server_status, start_background, stop_server
from ferry.settings import Settings
from ferry.specs.batch import BatchDeploymentSettings, CodeConfigurationSpec
from tests.batch_e2e.conftest import make_inputs, write_script

SLOW = """
import time
from pathlib import Path

def init():
    pass

def run(mini_batch):
    time.sleep(0.02 * len(mini_batch))
    return [f"{Path(p).name} {Path(p).read_text()}" for p in mini_batch]
"""


def test_server_kill_and_restart_completes_job_exactly_once(tmp_path: Path) -> None:
    settings = Settings(workspace=tmp_path / "ws")
    client = MLClient(settings=settings)
    try:
        client.batch_endpoints.begin_create_or_update(BatchEndpoint(name="slow-endpoint"))
        weights = tmp_path / "w.bin"
        weights.write_bytes(b"w")
        client.batch_deployments.begin_create_or_update(
            BatchDeployment(
                name="slow",
                endpoint_name="slow-endpoint",
                model=Model(name="slow-model", path=str(weights)),
                code_configuration=CodeConfigurationSpec(
                    code=str(write_script(tmp_path / "code", SLOW)), scoring_script="driver.py"
                ),
                environment="ferry:server-python",
                settings=BatchDeploymentSettings(mini_batch_size=5, max_concurrency_per_instance=2),
            )
        )
        job = client.batch_endpoints.invoke(
            endpoint_name="slow-endpoint", input=Input(path=str(make_inputs(tmp_path / "in", 300)))
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            progress = client.jobs.get(job.name).progress or {}
            if progress.get("items_succeeded", 0) >= 40:
                break
            time.sleep(0.1)
        info = server_status(settings)
        assert info is not None
        os.kill(int(info["pid"]), signal.SIGKILL)
        os.waitpid(int(info["pid"]), 0)  # this test process started it, so it reaps it
        client.close()

        start_background(settings)  # the restarted server resumes the job by itself
        client = MLClient(settings=settings)
        done = client.jobs.wait(job.name, timeout=180)
        assert done.status == "Completed", done.error
        out = client.jobs.download(job.name, download_path=str(tmp_path / "dl"))
        frame = pd.read_csv(out / "predictions.csv", header=None, names=["file", "v"], sep=" ")
        assert sorted(frame["v"]) == list(range(300))
        assert list(frame["file"]) == [f"item-{i:05d}.txt" for i in range(300)]
    finally:
        client.close()
        stop_server(settings)
