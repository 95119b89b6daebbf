"""A failed job says what kind of failure failed it: the user's code (Failed) or the machine's
(Crashed), in its outcome, in the journal's end event, and again after a replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ferry.specs.states import FailureKind, JobState
from tests.batch.conftest import Jobs, events

RAISES = """
def run(mini_batch):
    raise ValueError("cannot score")
"""

DIES = """
import os

def run(mini_batch):
    os._exit(9)
"""

INIT_RAISES = """
def init():
    raise RuntimeError("no model")

def run(mini_batch):
    return mini_batch
"""


def _end(job: Path) -> dict[str, Any]:
    (end,) = events(job, "end")
    return end


def test_a_script_error_over_the_threshold_is_a_failed_script_error(jobs: Jobs) -> None:
    job = jobs.job(jobs.files(2), jobs.script(RAISES), max_retries=0, error_threshold=0)
    outcome = jobs.run(job)
    assert (outcome.state, outcome.failure) == (JobState.FAILED, FailureKind.SCRIPT_ERROR)
    assert outcome.failure is not None and not outcome.failure.crashed
    assert _end(job)["kind"] == "script_error"
    # A job that already ended returns what its journal recorded, kind included.
    again = jobs.run(job)
    assert (again.state, again.failure, again.message) == (
        JobState.FAILED,
        FailureKind.SCRIPT_ERROR,
        outcome.message,
    )


def test_a_worker_that_dies_is_a_crash_not_a_script_error(jobs: Jobs) -> None:
    job = jobs.job(jobs.files(2), jobs.script(DIES), max_retries=0, error_threshold=0)
    outcome = jobs.run(job)
    assert (outcome.state, outcome.failure) == (JobState.FAILED, FailureKind.WORKER_CRASHED)
    assert outcome.failure is not None and outcome.failure.crashed
    assert _end(job)["kind"] == "worker_crashed"
    lost = [e for e in events(job, "worker") if e["state"] == "lost"]
    assert lost and all(e["kind"] == "worker_crashed" for e in lost)


def test_init_raising_is_an_init_failure(jobs: Jobs) -> None:
    job = jobs.job(jobs.files(1), jobs.script(INIT_RAISES))
    outcome = jobs.run(job)
    assert (outcome.state, outcome.failure) == (JobState.FAILED, FailureKind.INIT_FAILED)
    failed = [e for e in events(job, "worker") if e["state"] == "init_failed"]
    assert failed and all(e["kind"] == "init_failed" for e in failed)


def test_completed_and_canceled_jobs_have_no_failure_kind(jobs: Jobs) -> None:
    job = jobs.job(jobs.files(2), jobs.script("def run(mini_batch):\n    return mini_batch\n"))
    outcome = jobs.run(job)
    assert (outcome.state, outcome.failure) == (JobState.COMPLETED, None)
    assert "kind" not in _end(job)
