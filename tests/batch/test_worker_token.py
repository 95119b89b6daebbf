"""Workers prove they belong to the job: a client without the job's token never gets work."""

from __future__ import annotations

import json
import logging
import socket
import sys

import pytest

from ferry.batch.hub import Hub
from ferry.batch.pool import Worker
from ferry.runtime.frames import encode_frame, recv_frame
from tests.batch.conftest import Jobs, events, output_lines
from tests.batch.forger import FORGER

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/cmdline")

SCRIPT = (
    FORGER
    + """

def init():
    with open(os.environ["FORGERY_REPORT"], "w") as f:
        json.dump(forge(), f)

def run(mini_batch):
    return [os.path.basename(p) for p in mini_batch]
"""
)


def test_a_client_without_the_token_is_dropped_and_the_job_runs_once(jobs: Jobs) -> None:
    data = jobs.files(20)
    report = jobs.tmp / "forged.json"
    job = jobs.job(
        data,
        jobs.script(SCRIPT),
        mini_batch_size=3,
        environment_variables={"FORGERY_REPORT": str(report)},
    )

    outcome = jobs.run(job)

    assert outcome.state == "Completed", outcome.message
    forged = json.loads(report.read_text())
    # Both posed as process000 while it was in init(): the engine closed them unanswered.
    assert forged == {"missing": "", "wrong": "", "token_in_environ": False}
    assert output_lines(job) == [f"f{i:05d}.txt" for i in range(20)]
    settled = [e["mb"] for e in events(job, "ok")]
    assert sorted(settled) == list(range(7))  # each mini-batch settled once, by process000
    assert {e["w"] for e in events(job, "ok")} == {"process000"}


def _hello(worker_id: str, **extra: str) -> bytes:
    return encode_frame({"kind": "ready", "worker_id": worker_id, "pid": 1, **extra})


def test_the_tcp_hub_drops_a_wrong_token_before_the_worker_is_claimed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = "the-job-token"
    worker = Worker("process000", None, 0.0)  # type: ignore[arg-type]  # no process: only its id
    hub = Hub("tcp", {"process000": worker}.get, token, "127.0.0.1")
    host, port = hub.address.rsplit(":", 1)
    try:
        for extra in ({}, {"token": "not-the-token"}, {"token": "the-job-tokeN"}):
            with socket.create_connection((host, int(port))) as forged:
                forged.sendall(_hello("process000", **extra))
                with caplog.at_level(logging.WARNING, logger="ferry.batch"):
                    for _ in range(3):  # accept, read the hello, then nothing more
                        assert hub.wait(0.3) == []
                forged.settimeout(10)
                assert forged.recv(100) == b""  # closed, no frame
            assert worker.channel is None
        assert caplog.text.count("dropped a worker connection from 127.0.0.1:") == 3
        assert token not in caplog.text

        with socket.create_connection((host, int(port))) as real:
            real.sendall(_hello("process000", token=token))
            got: list[object] = []
            while not got:
                got = list(hub.wait(5.0))
            assert got == [(worker, {"kind": "ready", "worker_id": "process000", "pid": 1}, b"")]
            assert hub.send(worker, {"kind": "ping", "id": 1})
            hub.wait(0.5)
            real.settimeout(10)
            assert recv_frame(real) == ({"kind": "ping", "id": 1}, b"")
    finally:
        hub.close()
