"""The batch side of the scoring-script contract, on the engine with real worker processes:
script arguments in ``sys.argv``, two mini-batches writing the same output file, and an
``init()`` that never returns."""

from __future__ import annotations

from tests.batch.conftest import Jobs, Recorder, progress_json

ARGS_SCRIPT = """
import argparse

def init():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--model_name")
    parser.add_argument("--label_dir")
    args, _ = parser.parse_known_args()

def run(mini_batch):
    return [f"{args.model_name} {args.label_dir}" for _ in mini_batch]
"""


def test_arguments_reach_parse_known_args_in_init(jobs: Jobs) -> None:
    job = jobs.job(
        jobs.files(2),
        jobs.script(ARGS_SCRIPT),
        program_arguments=["--model_name", "mosaic", "--label_dir", "a b"],
    )
    outcome = jobs.run(job)
    assert outcome.state == "Completed", outcome.message
    lines = (job / "named-outputs" / "score" / "predictions.csv").read_text().splitlines()
    # --logging_level (PRS's own) comes too, and parse_known_args leaves it alone.
    assert lines == ["mosaic a b", "mosaic a b"]


SAME_NAME_SCRIPT = """
import os

def run(mini_batch):
    # Seed 000's bug: every mini-batch writes the same file name into the shared folder.
    out = os.environ["AZUREML_BI_OUTPUT_PATH"]
    with open(os.path.join(out, "results.csv"), "w") as f:
        f.write("\\n".join(mini_batch))
    with open(os.path.join(out, os.path.basename(mini_batch[0]) + ".out"), "w") as f:
        f.write("own file")
    return mini_batch
"""


def test_two_mini_batches_writing_one_file_complete_with_a_warning(jobs: Jobs) -> None:
    job = jobs.job(jobs.files(3), jobs.script(SAME_NAME_SCRIPT), mini_batch_size=1)
    outcome = jobs.run(job)
    assert outcome.state == "Completed", outcome.message
    result = (job / "logs" / "job_result.txt").read_text()
    assert (
        "Warning: output file results.csv was written by mini-batch 0 and again by mini-batch 1"
        in result
    )
    assert "by mini-batch 1 and again by mini-batch 2" in result
    assert "name each output file after its input" in result
    assert ".out" not in result  # files named after their input are fine
    warnings = progress_json(job)["warnings"]
    assert len(warnings) == 2 and warnings[0].startswith("output file results.csv was written")
    master = (job / "logs" / "sys" / "master_role.txt").read_text()
    assert "output file results.csv was written by mini-batch 0" in master


def test_one_writer_per_file_has_no_warning(jobs: Jobs) -> None:
    script = SAME_NAME_SCRIPT.replace('"results.csv"', "os.path.basename(mini_batch[0])")
    job = jobs.job(jobs.files(3), jobs.script(script), mini_batch_size=1)
    assert jobs.run(job).state == "Completed"
    assert "Warning" not in (job / "logs" / "job_result.txt").read_text()
    assert progress_json(job)["warnings"] == []


HANGING_INIT = """
import time

def init():
    time.sleep(600)

def run(mini_batch):
    return mini_batch
"""


def test_a_hung_init_ends_at_init_timeout_and_progress_says_so(jobs: Jobs) -> None:
    job = jobs.job(jobs.files(2), jobs.script(HANGING_INIT), init_timeout=1.5)
    recorder = Recorder()
    outcome = jobs.run(job, on_progress=recorder)
    assert outcome.state == "Failed"
    assert "was not ready within init_timeout (1.5 s)" in outcome.message
    assert "raise settings.init_timeout in the deployment" in outcome.message
    waiting = [s for s in recorder.snapshots if s.workers_in_init]
    assert waiting, "no progress snapshot showed the worker in init()"
    assert waiting[0].activity is not None
    assert waiting[0].activity.startswith("1 worker in init() for ")
    overview = (job / "logs" / "job_progress_overview.txt").read_text()
    assert "1 worker in init() for" in overview
    # Once it ended nobody waits any more.
    assert progress_json(job)["workers_in_init"] == 0
