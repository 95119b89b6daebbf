"""Failures: script errors, too few rows, hangs, crashes, the error threshold, broken scripts."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

from ferry.batch.definition import JobLayout
from tests.batch.conftest import Jobs, events, output_lines

# A script whose behaviour depends on the file's content.
MOODY = """
import os, subprocess, time

def run(mini_batch):
    out = []
    for p in mini_batch:
        text = open(p).read()
        if text == "boom":
            raise ValueError(f"cannot score {os.path.basename(p)}")
        if text == "hang":  # with a child process, which must die with the worker
            child = subprocess.Popen(["sleep", "600"])
            with open(p + f".child-{child.pid}", "w"):
                pass
            time.sleep(600)
        if text == "crash":
            os._exit(7)
        if text == "skip":
            continue
        out.append(os.path.basename(p))
    return out
"""


def _data(jobs: Jobs, contents: list[str]) -> Path:
    return jobs.files(len(contents), content=lambda i: contents[i])


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead, just not reaped


def _manifest(job: Path) -> list[dict[str, str]]:
    with JobLayout(job).manifest.open() as f:
        return list(csv.DictReader(f))


def test_script_error_is_retried_then_its_items_fail(jobs: Jobs) -> None:
    data = _data(jobs, ["ok", "boom", "ok", "ok", "ok"])
    job = jobs.job(data, jobs.script(MOODY), mini_batch_size=2, max_retries=2)
    outcome = jobs.run(job)

    assert outcome.state == "Completed"
    assert (outcome.progress.items_succeeded, outcome.progress.items_failed) == (3, 2)
    assert outcome.progress.mini_batches_failed == 1
    fails = events(job, "fail")
    assert [(e["mb"], e["try"], e["kind"], e["final"]) for e in fails] == [
        (0, 1, "script_error", False),
        (0, 2, "script_error", False),
        (0, 3, "script_error", True),
    ]
    assert fails[-1]["error"]["type"] == "ValueError"
    assert fails[-1]["error"]["message"] == "cannot score f00001.txt"
    assert output_lines(job) == ["f00002.txt", "f00003.txt", "f00004.txt"]
    rows = _manifest(job)
    assert [(r["status"], r["attempts"]) for r in rows[:3]] == [
        ("failed", "3"),
        ("failed", "3"),
        ("succeeded", "1"),
    ]
    assert rows[0]["error"] == "script_error: ValueError: cannot score f00001.txt"
    layout = JobLayout(job)
    user_errors = layout.user_error.read_text()
    assert user_errors.count("ValueError: cannot score f00001.txt") >= 3
    assert 'raise ValueError(f"cannot score' in user_errors  # the traceback
    job_error = layout.job_error.read_text()
    assert "mini-batch 0 (failed, 3 attempt(s)): script_error: ValueError" in job_error
    assert "logs/user/stderr/<worker>.txt" in job_error
    # The workers' own log lines number mini-batches (and tries) as the reports do.
    worker_logs = "".join(p.read_text() for p in (Path(job) / "logs" / "user").rglob("*.txt"))
    assert "mini-batch 0 failed:" in worker_logs
    assert "mini-batch 0 (attempt 3) failed:" in worker_logs
    assert "mini-batch 2: 1 files -> 1 items" in worker_logs
    assert "3 of 5 items succeeded" in outcome.message and "2 failed" in outcome.message


def test_too_few_rows_keeps_the_rows_and_fails_the_shortfall(jobs: Jobs) -> None:
    data = _data(jobs, ["ok", "skip", "ok", "ok"])
    job = jobs.job(data, jobs.script(MOODY), mini_batch_size=2, max_retries=1)
    outcome = jobs.run(job)

    assert outcome.state == "Completed"
    assert (outcome.progress.items_succeeded, outcome.progress.items_failed) == (3, 1)
    assert [(e["kind"], e["final"]) for e in events(job, "fail")] == [
        ("too_few_rows", False),
        ("too_few_rows", True),
    ]
    assert output_lines(job) == ["f00000.txt", "f00002.txt", "f00003.txt"]
    rows = _manifest(job)
    assert [r["status"] for r in rows] == ["partial", "partial", "succeeded", "succeeded"]
    assert "run() returned 1 result(s) for 2 file(s)" in rows[0]["error"]


def _hang_job(jobs: Jobs, threshold: int) -> Path:
    data = _data(jobs, ["ok", "ok", "hang", "ok", "ok"])
    return jobs.job(
        data,
        jobs.script(MOODY),
        mini_batch_size=2,
        max_retries=1,
        timeout=1,
        error_threshold=threshold,
    )


def test_a_hung_run_times_out_is_retried_and_fails_the_job_over_the_threshold(
    jobs: Jobs,
) -> None:
    job = _hang_job(jobs, threshold=1)
    outcome = jobs.run(job)

    assert outcome.state == "Failed"
    assert outcome.message.startswith("2 items failed, over the error_threshold of 1")
    assert outcome.progress.items_failed == 2
    fails = events(job, "fail")
    assert [(e["mb"], e["try"], e["kind"], e["final"]) for e in fails] == [
        (1, 1, "timeout", False),
        (1, 2, "timeout", True),
    ]
    assert "run() did not return within the timeout of 1 s" in fails[0]["error"]["message"]
    # The hung worker was killed and replaced; the replacement ran init() again.
    lost = [e for e in events(job, "worker") if e["state"] == "lost"]
    assert len(lost) == 2 and all("SIGKILL" in e["exit"] for e in lost)
    assert "2 items failed, over the error_threshold of 1" in JobLayout(job).job_error.read_text()
    assert not (JobLayout(job).outputs / "predictions.csv").exists()


def test_a_hung_run_with_threshold_minus_one_completes(jobs: Jobs) -> None:
    job = _hang_job(jobs, threshold=-1)
    outcome = jobs.run(job)

    assert outcome.state == "Completed"
    assert (outcome.progress.items_succeeded, outcome.progress.items_failed) == (3, 2)
    assert output_lines(job) == ["f00000.txt", "f00001.txt", "f00004.txt"]
    rows = _manifest(job)
    assert [(r["status"], r["attempts"]) for r in rows[2:4]] == [("failed", "2"), ("failed", "2")]
    assert rows[2]["error"].startswith("timeout: Timeout: run() did not return")
    children = [int(p.name.rsplit("-", 1)[1]) for p in (job.parent / "data").glob("*.child-*")]
    assert len(children) == 2
    assert not any(_alive(pid) for pid in children)  # the worker's process group was killed


def test_a_worker_that_dies_is_recorded_apart_from_script_errors(jobs: Jobs) -> None:
    data = _data(jobs, ["ok", "crash", "ok", "boom"])
    job = jobs.job(data, jobs.script(MOODY), mini_batch_size=1, max_retries=0)
    outcome = jobs.run(job)

    assert outcome.state == "Completed"
    assert outcome.progress.items_failed == 2
    kinds = {e["mb"]: e["kind"] for e in events(job, "fail")}
    assert kinds == {1: "worker_crashed", 3: "script_error"}
    crash = next(e for e in events(job, "fail") if e["mb"] == 1)["error"]
    assert crash["type"] == "WorkerCrashed"
    assert "exited with code 7 while running mini-batch 1" in crash["message"]
    assert "logs/user/stderr/process000.txt" in crash["message"]
    assert output_lines(job) == ["f00000.txt", "f00002.txt"]


def test_threshold_counts_items_not_mini_batches(jobs: Jobs) -> None:
    data = _data(jobs, ["boom", "ok", "ok", "ok", "boom", "ok"])
    job = jobs.job(data, jobs.script(MOODY), mini_batch_size=2, max_retries=0, error_threshold=3)
    outcome = jobs.run(job)
    assert outcome.state == "Failed"
    assert outcome.message.startswith("4 items failed, over the error_threshold of 3")


def test_a_script_without_run_fails_the_job_pointing_at_the_worker_log(jobs: Jobs) -> None:
    script = jobs.script("def init():\n    pass\n")
    job = jobs.job(jobs.files(3), script, max_concurrency_per_instance=2)
    outcome = jobs.run(job)

    assert outcome.state == "Failed"
    assert outcome.message.startswith(
        "the entry script failed to load in 6 worker processes (the limit is 3 x 2 workers)"
    )
    assert "score.py defines no run() function" in outcome.message
    assert "(see logs/user/stderr/process00" in outcome.message
    layout = JobLayout(job)
    worker = outcome.message.split("(see logs/user/stderr/")[1].split(".txt")[0]
    assert "defines no run() function" in layout.user_stderr(worker).read_text()
    assert "defines no run() function" in layout.job_error.read_text()
    # One mini-batch: of the two workers started while the input was listed, one was stopped.
    assert len([e for e in events(job, "worker") if e["state"] == "init_failed"]) == 6


def test_init_raising_fails_the_job_quoting_the_exception(jobs: Jobs) -> None:
    script = jobs.script(
        """
        def init():
            raise RuntimeError("model file model.pkl not found")

        def run(mini_batch):
            return mini_batch
        """
    )
    job = jobs.job(jobs.files(2), script)
    outcome = jobs.run(job)

    assert outcome.state == "Failed"
    assert outcome.message == (
        "init() raised in 3 worker processes (the limit is 3 x 1 workers), so the job stopped. "
        "Last error, from process002 (see logs/user/stderr/process002.txt): "
        "RuntimeError: model file model.pkl not found"
    )
    layout = JobLayout(job)
    assert 'raise RuntimeError("model file model.pkl not found")' in layout.job_error.read_text()
    assert "model file model.pkl not found" in layout.user_stderr("process002").read_text()
    assert outcome.progress.items_failed == 0  # nothing ran: resumable as is


def test_a_missing_interpreter_fails_clearly(jobs: Jobs) -> None:
    job = jobs.job(jobs.files(1), jobs.script(MOODY), python=str(jobs.tmp / "no-python"))
    outcome = jobs.run(job)
    assert outcome.state == "Failed"
    assert outcome.message.startswith(
        f"cannot start a worker with the environment's python {jobs.tmp / 'no-python'}"
    )


def test_a_timed_out_mini_batch_left_unretried_says_so_in_every_report(jobs: Jobs) -> None:
    """A try that timed out, then the job stopped before the retry: not 'not_run'."""
    data = _data(jobs, ["hang", "ok", "ok"])
    job = jobs.job(data, jobs.script(MOODY), mini_batch_size=1, max_retries=2, timeout=1)
    cancel = threading.Event()

    def cancel_after_the_first_timeout() -> None:
        while not cancel.is_set():
            if any(e["kind"] == "timeout" for e in events(job, "fail")):
                cancel.set()
            cancel.wait(0.05)

    watcher = threading.Thread(target=cancel_after_the_first_timeout, daemon=True)
    watcher.start()
    outcome = jobs.run(job, cancel=cancel)
    cancel.set()
    watcher.join()

    assert outcome.state == "Canceled"
    rows = _manifest(job)
    assert (rows[0]["status"], rows[0]["attempts"]) == ("timed_out", "1")
    assert rows[0]["error"].startswith("timeout: Timeout: run() did not return")
    assert all(r["status"] in ("succeeded", "not_run") for r in rows[1:])
    assert (
        "mini-batch 0 (timed_out, 1 attempt(s)): timeout:" in JobLayout(job).job_error.read_text()
    )
    with JobLayout(job).processed_mini_batches.open() as f:
        processed = list(csv.DictReader(f))
    assert (processed[0]["status"], processed[0]["attempts"]) == ("timed_out", "1")
