"""LocalCompute, the local implementation of the Compute port: GPUs spread one worker per device
(``CUDA_VISIBLE_DEVICES``), with real batch jobs and real worker processes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ferry.backends.gpus import GpuSlots, visible_gpus
from ferry.backends.local import LocalCompute
from ferry.batch.engine import run_job
from ferry.workers.spec import WorkerResources, WorkerSpec
from tests.batch.conftest import Jobs

# init() records what its worker sees; run() waits until every worker did (so none is stopped
# before its init()), then scores nothing of interest.
RECORD_GPU = """
import os
import time
from pathlib import Path

def init():
    seen = os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")
    leaked = os.environ.get("FERRY_GPUS", "<unset>")
    Path(os.environ["GPU_DIR"], str(os.getpid())).write_text(seen + " " + leaked)

def run(mini_batch):
    deadline = time.monotonic() + 30
    while len(os.listdir(os.environ["GPU_DIR"])) < int(os.environ["WORKERS"]):
        if time.monotonic() > deadline:
            raise TimeoutError("not every worker ran init()")
        time.sleep(0.05)
    return [os.path.basename(p) for p in mini_batch]
"""


def _gpus_seen(tmp_path: Path, workers: int, gpus_per_worker: float | None) -> list[str]:
    """Run a real job of ``workers`` workers; what each worker's environment held, sorted."""
    jobs = Jobs(tmp_path)
    seen = tmp_path / "seen"
    seen.mkdir()
    job = jobs.job(
        jobs.files(4),
        jobs.script(RECORD_GPU),
        instance_count=workers,
        mini_batch_size=1,
        environment_variables={"GPU_DIR": str(seen), "WORKERS": str(workers)},
        gpus_per_worker=gpus_per_worker,
    )
    outcome = run_job(job, compute=LocalCompute())
    assert outcome.state == "Completed", outcome.message
    return sorted(p.read_text() for p in seen.iterdir())


def test_two_workers_on_two_gpus_get_one_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FERRY_GPUS", "0,1")
    # The server's own setting never reaches the workers (nor any other FERRY_ variable).
    assert _gpus_seen(tmp_path, 2, 1) == ["0 <unset>", "1 <unset>"]


def test_a_count_in_ferry_gpus_and_more_workers_than_gpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FERRY_GPUS", "2")
    # Worker i gets GPU i mod 2.
    assert _gpus_seen(tmp_path, 3, 1) == ["0 <unset>", "0 <unset>", "1 <unset>"]


def test_the_servers_cuda_visible_devices_are_the_ones_shared_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FERRY_GPUS", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert _gpus_seen(tmp_path, 2, 1) == ["3 <unset>", "5 <unset>"]


def test_workers_that_ask_for_no_gpu_see_what_the_server_sees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FERRY_GPUS", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert _gpus_seen(tmp_path, 2, None) == ["3,5 <unset>", "3,5 <unset>"]


def test_two_gpus_per_worker_and_a_fraction_takes_a_whole_device() -> None:
    slots = GpuSlots(["0", "1", "2", "3"])
    first, second = slots.take(2, {}), slots.take(2, {})
    assert (first.devices, second.devices) == (("0", "1"), ("2", "3"))
    assert WorkerResources(gpus=0.5).whole_gpus == 1 and WorkerResources().whole_gpus == 0
    first.release()  # its worker ended: the next one gets its devices
    assert slots.take(1, {}).devices == ("0",)


def test_visible_gpus_reads_ferry_gpus_then_cuda_visible_devices() -> None:
    assert visible_gpus({"FERRY_GPUS": "3", "CUDA_VISIBLE_DEVICES": "7"}) == ["0", "1", "2"]
    assert visible_gpus({"FERRY_GPUS": "GPU-a, GPU-b"}) == ["GPU-a", "GPU-b"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []


def test_a_replacement_takes_the_device_its_predecessor_freed(tmp_path: Path) -> None:
    compute = LocalCompute(GpuSlots(["0", "1"]))
    out = tmp_path / "env.txt"
    code = "import os,sys; open(sys.argv[1], 'a').write(os.environ['CUDA_VISIBLE_DEVICES'] + ' ')"
    script = tmp_path / "show_gpu.py"
    script.write_text(code)

    def spec(worker_id: str) -> WorkerSpec:
        # The "interpreter" is a real program that records its environment and exits.
        python = tmp_path / f"python-{worker_id}"
        python.write_text(f"#!/bin/sh\nexec {sys.executable} {script} {out}\n")
        python.chmod(0o755)
        return WorkerSpec(
            worker_id=worker_id,
            python=str(python),
            entry_script=str(script),
            code_dir=str(tmp_path),
            connect="unused",
            resources=WorkerResources(gpus=1),
        )

    first = compute.start(spec("w0"))
    assert first.wait(30) == 0  # ended: its device is free again
    second = compute.start(spec("w1"))
    assert second.wait(30) == 0
    assert out.read_text().split() == ["0", "0"]
