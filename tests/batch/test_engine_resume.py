"""Durability: workers killed with SIGKILL, the engine killed mid-job, resume, cancel."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ferry.batch.definition import JobLayout
from tests.batch.conftest import Jobs, events, output_lines, progress_json

# Records each worker's pid (for the killers) and each run() call (to see what ran again).
TRACKED = """
import os, time

def init():
    open(os.path.join(os.environ["TRACK_DIR"], f"pid-{os.getpid()}"), "w").close()

def run(mini_batch):
    with open(os.path.join(os.environ["TRACK_DIR"], "calls.txt"), "a") as f:
        f.write(" ".join(os.path.basename(p) for p in mini_batch) + "\\n")
    out = []
    for p in mini_batch:
        text = open(p).read()
        if text == "bad":
            raise ValueError("bad content in " + os.path.basename(p))
        time.sleep(float(os.environ.get("ITEM_SECONDS", "0")))
        out.append(os.path.basename(p))
    return out
"""


def _track(jobs: Jobs, item_seconds: float = 0.0) -> tuple[Path, dict[str, str]]:
    track = jobs.tmp / "track"
    track.mkdir()
    return track, {"TRACK_DIR": str(track), "ITEM_SECONDS": str(item_seconds)}


def _pids(track: Path) -> list[int]:
    return [int(p.name[4:]) for p in track.glob("pid-*")]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead, just not reaped


def _names(count: int) -> list[str]:
    return [f"f{i:05d}.txt" for i in range(count)]


def test_workers_killed_with_sigkill_leave_every_item_exactly_once(jobs: Jobs) -> None:
    track, env = _track(jobs, item_seconds=0.0004)
    job = jobs.job(
        jobs.files(5000),
        jobs.script(TRACKED),
        mini_batch_size=10,
        max_concurrency_per_instance=2,
        environment_variables=env,
    )
    killed: list[int] = []
    done = threading.Event()

    def killer() -> None:
        rng = random.Random(7)
        while len(killed) < 3 and not done.wait(0.35):
            live = [p for p in _pids(track) if p not in killed and _alive(p)]
            if live:
                victim = rng.choice(live)
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        outcome = jobs.run(job)
    finally:
        done.set()
        thread.join()

    assert outcome.state == "Completed", outcome.message
    assert len(killed) >= 2  # the job ran long enough to lose workers
    assert output_lines(job) == _names(5000)
    assert outcome.progress.items_succeeded == 5000
    crashed = [e for e in events(job, "fail") if e["kind"] == "worker_crashed"]
    assert crashed and all("SIGKILL" in e["error"]["message"] for e in crashed)


_ENGINE = """
import sys
from ferry.backends.local import LocalCompute
from ferry.batch.engine import run_job
print(run_job(sys.argv[1], compute=LocalCompute()).state)
"""


def _kill_engine_when(job: Path, ready: Callable[[], bool]) -> None:
    """Run the job's engine in a child process and SIGKILL it once ``ready()`` (or after 60 s)."""
    engine = subprocess.Popen([sys.executable, "-c", _ENGINE, str(job)])
    try:
        deadline = time.monotonic() + 60
        while not ready() and time.monotonic() < deadline:
            time.sleep(0.01)
        engine.send_signal(signal.SIGKILL)
    finally:
        engine.wait()


def test_engine_killed_mid_job_then_rerun_gives_every_item_exactly_once(jobs: Jobs) -> None:
    track, env = _track(jobs, item_seconds=0.002)
    job = jobs.job(
        jobs.files(1000),
        jobs.script(TRACKED),
        mini_batch_size=10,
        max_concurrency_per_instance=2,
        environment_variables=env,
    )
    _kill_engine_when(job, lambda: len(events(job, "ok")) >= 30)
    settled_before = {e["mb"] for e in events(job, "ok")}
    assert 30 <= len(settled_before) < 100, "the engine must die mid-job"
    calls_before = len((track / "calls.txt").read_text().splitlines())

    outcome = jobs.run(job)

    assert outcome.state == "Completed", outcome.message
    assert output_lines(job) == _names(1000)
    # Settled mini-batches were not run again; the rest ran once (plus what was in flight).
    second = events(job)
    session2 = max(i for i, e in enumerate(second) if e["ev"] == "session")
    rerun = {e["mb"] for e in second[session2:] if e["ev"] == "start"}
    assert not rerun & settled_before
    assert rerun == set(range(100)) - settled_before
    calls = len((track / "calls.txt").read_text().splitlines())
    assert calls - calls_before == len(rerun)


def test_resume_job_reruns_only_the_failed_mini_batches(jobs: Jobs) -> None:
    track, env = _track(jobs)
    data = jobs.files(6, content=lambda i: "bad" if i == 3 else "ok")
    job = jobs.job(
        data, jobs.script(TRACKED), mini_batch_size=2, max_retries=1, environment_variables=env
    )
    first = jobs.run(job)
    assert first.state == "Completed"
    assert first.progress.items_failed == 2
    assert output_lines(job) == ["f00000.txt", "f00001.txt", "f00004.txt", "f00005.txt"]
    calls = track / "calls.txt"
    assert calls.read_text().count("f00002.txt f00003.txt") == 2  # 1 + max_retries attempts

    (data / "f00003.txt").write_text("fixed")
    calls.write_text("")
    second = jobs.run(job, resume=True)

    assert second.state == "Completed", second.message
    assert (second.progress.items_succeeded, second.progress.items_failed) == (6, 0)
    assert calls.read_text() == "f00002.txt f00003.txt\n"
    assert output_lines(job) == _names(6)
    assert not JobLayout(job).job_error.exists()


def test_cancel_stops_the_job_and_kills_its_workers(jobs: Jobs) -> None:
    track, env = _track(jobs, item_seconds=0.01)
    job = jobs.job(
        jobs.files(400),
        jobs.script(TRACKED),
        mini_batch_size=5,
        max_concurrency_per_instance=2,
        environment_variables=env,
    )
    cancel = threading.Event()

    def on_progress(progress: object) -> None:
        if getattr(progress, "mini_batches_done", 0) >= 4:
            cancel.set()

    outcome = jobs.run(job, cancel=cancel, on_progress=on_progress)

    assert outcome.state == "Canceled"
    assert outcome.message == "the job was canceled"
    assert 4 <= outcome.progress.mini_batches_done < 80
    assert progress_json(job)["state"] == "Canceled"
    assert not any(_alive(pid) for pid in _pids(track))
    assert events(job)[-1]["state"] == "Canceled"
    assert "Canceled" in JobLayout(job).job_error.read_text()
    # Not resumed by a plain run (a restarted server must not revive it) ...
    assert jobs.run(job).state == "Canceled"
    # ... but resume_job finishes it, keeping what was done.
    done = {e["mb"] for e in events(job, "ok")}
    env_fast = {**env, "ITEM_SECONDS": "0"}
    definition = json.loads((job / "job.json").read_text())
    definition["environment_variables"] = env_fast
    (job / "job.json").write_text(json.dumps(definition))
    outcome = jobs.run(job, resume=True)
    assert outcome.state == "Completed"
    assert output_lines(job) == _names(400)
    session = max(i for i, e in enumerate(events(job)) if e["ev"] == "session")
    assert not {e["mb"] for e in events(job)[session:] if e["ev"] == "start"} & done


@pytest.mark.parametrize("torn", [b'{"ev":"ok","mb":1,"try":1', b"\x00\x00garbage"])
def test_a_torn_journal_line_is_dropped_on_resume(jobs: Jobs, torn: bytes) -> None:
    job = jobs.job(jobs.files(4), jobs.script(TRACKED), mini_batch_size=1)
    _, env = _track(jobs)
    definition = json.loads((job / "job.json").read_text())
    definition["environment_variables"] = env
    (job / "job.json").write_text(json.dumps(definition))
    layout = JobLayout(job)
    layout.state.mkdir()
    layout.journal.write_bytes(b'{"ev":"session","n":1}\n' + torn)
    outcome = jobs.run(job)
    assert outcome.state == "Completed"
    assert output_lines(job) == _names(4)


def test_lost_row_files_are_redone(jobs: Jobs) -> None:
    job = jobs.job(jobs.files(4), jobs.script(TRACKED), mini_batch_size=2)
    track, env = _track(jobs)
    definition = json.loads((job / "job.json").read_text())
    definition["environment_variables"] = env
    (job / "job.json").write_text(json.dumps(definition))
    assert jobs.run(job).state == "Completed"
    layout = JobLayout(job)
    # Simulate a machine crash that lost a row file and the end of the journal.
    with layout.rows.open("r+b") as rows:  # the second mini-batch's rows never reached disk
        rows.truncate(len("f00000.txt\nf00001.txt\n"))
    lines = layout.journal.read_bytes().splitlines(keepends=True)
    layout.journal.write_bytes(b"".join(e for e in lines if b'"ev":"end"' not in e))
    (track / "calls.txt").write_text("")
    assert jobs.run(job).state == "Completed"
    assert (track / "calls.txt").read_text() == "f00002.txt f00003.txt\n"
    assert output_lines(job) == _names(4)


def test_a_hung_worker_left_by_a_dead_engine_is_killed_by_the_next_run(jobs: Jobs) -> None:
    track, env = _track(jobs)
    data = jobs.files(1, content=lambda i: "hang")
    hang = 'if text == "hang":\n            time.sleep(600)\n        if text == "bad":'
    script = jobs.script(TRACKED.replace('if text == "bad":', hang))
    job = jobs.job(data, script, environment_variables=env, timeout=600)
    _kill_engine_when(job, lambda: bool(events(job, "start")))
    (orphan,) = _pids(track)
    assert _alive(orphan)  # hung in run(): it never notices that the engine is gone
    (data / "f00000.txt").write_text("ok")

    outcome = jobs.run(job)

    assert outcome.state == "Completed", outcome.message
    assert output_lines(job) == ["f00000.txt"]
    deadline = time.monotonic() + 5
    while _alive(orphan) and time.monotonic() < deadline:
        time.sleep(0.02)  # killed; reaped by init
    assert not _alive(orphan)
    assert "outlived the engine that started it; killed" in JobLayout(job).master_log.read_text()


def test_workers_of_an_engine_killed_during_their_init_exit_by_themselves(jobs: Jobs) -> None:
    # An engine can die while its workers run init(), even before it journals them (a fresh
    # job starts them before its plan), and nothing kills them until the job is run again:
    # once init() returns they must notice the closed connection and exit by themselves.
    track, env = _track(jobs)
    slow_init = TRACKED.replace('"w").close()\n', '"w").close()\n    time.sleep(1.5)\n', 1)
    job = jobs.job(
        jobs.files(20),
        jobs.script(slow_init),
        mini_batch_size=5,
        max_concurrency_per_instance=2,
        environment_variables=env,
    )
    _kill_engine_when(job, lambda: len(_pids(track)) >= 2)
    orphans = _pids(track)
    assert len(orphans) == 2 and all(_alive(pid) for pid in orphans)  # still in init()

    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in orphans) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in orphans)
    assert not (track / "calls.txt").exists()

    outcome = jobs.run(job)

    assert outcome.state == "Completed", outcome.message
    assert output_lines(job) == _names(20)
