"""A server killed mid-job carries on with the job after a restart, with exactly-once output."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ferry import BatchDeployment, BatchEndpoint, Input, MLClient, Model
from ferry.local_workspace.launcher import server_status, start_background, stop_server
from ferry.local_workspace.layout import WorkspaceLayout
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


HOLD = """
import os
import time
from pathlib import Path

HOLD = Path({hold!r})

def init():
    pass

def run(mini_batch):
    (HOLD.parent / f"ran-{{os.getpid()}}").touch()
    while HOLD.exists():
        time.sleep(0.05)
    return [Path(p).name for p in mini_batch]
"""


def _markers(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("ran-*")}


def _wait_for(what: str, check: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _backdate(folder: Path, seconds: float) -> None:
    """Make a tree look as if it was last written ``seconds`` ago."""
    then = time.time() - seconds
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (then, then), follow_symlinks=False)


def test_restart_after_kill_removes_leftovers_and_counts_every_session(tmp_path: Path) -> None:
    settings = Settings(workspace=tmp_path / "ws")
    layout = WorkspaceLayout(settings.resolved_workspace)
    control = tmp_path / "control"
    control.mkdir()
    hold = control / "hold"
    hold.touch()
    client = MLClient(settings=settings)
    try:
        client.batch_endpoints.begin_create_or_update(BatchEndpoint(name="hold-endpoint"))
        weights = tmp_path / "w.bin"
        weights.write_bytes(b"w")
        client.batch_deployments.begin_create_or_update(
            BatchDeployment(
                name="hold",
                endpoint_name="hold-endpoint",
                model=Model(name="hold-model", path=str(weights)),
                code_configuration=CodeConfigurationSpec(
                    code=str(write_script(tmp_path / "code", HOLD.format(hold=str(hold)))),
                    scoring_script="driver.py",
                ),
                environment="ferry:server-python",
                settings=BatchDeploymentSettings(mini_batch_size=1, max_concurrency_per_instance=1),
            )
        )
        model_path = client.models.get("hold-model", version="1").path
        referenced = layout.blobstore / "LocalUpload" / model_path.split("/LocalUpload/")[1]
        referenced = referenced.parent  # LocalUpload/<folder>/w.bin -> LocalUpload/<folder>
        job = client.batch_endpoints.invoke(
            endpoint_name="hold-endpoint", input=Input(path=str(make_inputs(tmp_path / "in", 3)))
        )
        _wait_for("the first session's run()", lambda: bool(_markers(control)))
        first_workers = _markers(control)
        before_kill = 0.0

        def ran_two_seconds() -> bool:
            nonlocal before_kill
            before_kill = (client.jobs.get(job.name).progress or {}).get("elapsed_seconds", 0.0)
            return before_kill >= 2.0

        _wait_for("the first session to run 2 s", ran_two_seconds)

        # What a server killed mid-work leaves: its socket folders, a half-unpacked upload, and
        # an upload committed to LocalUpload whose asset row was never written.
        info = server_status(settings)
        assert info is not None
        dead = int(info["pid"])
        temp = Path(tempfile.gettempdir())
        sockets = sorted(p.name for p in temp.glob(f"ferry-{dead}-*"))
        assert [name.split("-")[2] for name in sockets] == ["batch", "online"]
        staging = layout.tmp / "upload-k1ll3d"
        (staging / "model").mkdir(parents=True)
        (staging / "model" / "part.bin").write_bytes(b"half")
        orphan = layout.blobstore / "LocalUpload" / ("0" * 32)
        (orphan / "model").mkdir(parents=True)
        (orphan / "model" / "w.bin").write_bytes(b"never registered")
        _backdate(orphan, 3600)
        _backdate(referenced, 3600)  # as old, but an asset refers to it
        os.kill(dead, signal.SIGKILL)
        os.waitpid(dead, 0)  # this test process started it, so it reaps it
        client.close()

        start_background(settings)  # sweeps, then resumes the job in a second session
        client = MLClient(settings=settings)
        _wait_for("the second session's run()", lambda: _markers(control) - first_workers)
        second_running = time.monotonic()
        time.sleep(1.0)
        released = time.monotonic()
        hold.unlink()
        done = client.jobs.wait(job.name, timeout=180)
        assert done.status == "Completed", done.error

        assert not list(temp.glob(f"ferry-{dead}-*"))
        assert not staging.exists()
        assert not orphan.exists()
        assert referenced.is_dir() and (referenced / "w.bin").read_bytes() == b"w"
        log = layout.log_file.read_text(encoding="utf-8")
        assert "leftovers of a server that did not shut down cleanly" in log
        assert str(orphan) in log and str(staging) in log

        # Both sessions count: what the first had published before the kill, plus at least
        # the time the second was seen running before the hold was released.
        elapsed = (done.progress or {})["elapsed_seconds"]
        assert elapsed >= before_kill + (released - second_running)
    finally:
        hold.unlink(missing_ok=True)
        client.close()
        stop_server(settings)
