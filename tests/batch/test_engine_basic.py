"""Happy paths: outputs in input order, DataFrames, summary_only, uri_file, empty inputs, names
that are not UTF-8, the workers' environment, progress and the log layout."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import pytest

from ferry.batch.definition import JobLayout
from tests.batch.conftest import Jobs, Recorder, events, output_lines, progress_json

ECHO = """
import os

def init():
    print("init done", flush=True)

def run(mini_batch):
    return [os.path.basename(p) + " " + open(p).read() for p in mini_batch]
"""


def test_list_results_are_appended_in_input_order(jobs: Jobs) -> None:
    data = jobs.files(53, content=lambda i: str(i * i))
    (data / "sub").mkdir()
    (data / "sub" / "z.txt").write_text("nested")
    (data / "a-first.txt").write_text("first")
    job = jobs.job(data, jobs.script(ECHO), mini_batch_size=4, max_concurrency_per_instance=2)
    recorder = Recorder()

    outcome = jobs.run(job, on_progress=recorder)

    assert outcome.state == "Completed", outcome.message
    numbered = [f"f{i:05d}.txt {i * i}" for i in range(53)]
    expected = ["a-first.txt first", *numbered, "z.txt nested"]
    assert output_lines(job) == expected
    assert outcome.progress.items_total == outcome.progress.items_succeeded == 55
    assert outcome.progress.mini_batches_total == outcome.progress.mini_batches_done == 14
    assert outcome.message == (
        "55 of 55 items succeeded in 14 mini-batches; rows in named-outputs/score/predictions.csv"
    )
    states = [p.state for p in recorder.snapshots]
    assert states[0] == "Preparing" and "Running" in states and states[-1] == "Completed"
    assert progress_json(job)["state"] == "Completed"
    assert progress_json(job)["items_succeeded"] == 55


def test_log_layout_and_reports(jobs: Jobs) -> None:
    job = jobs.job(jobs.files(5), jobs.script(ECHO), mini_batch_size=2)
    assert jobs.run(job).state == "Completed"
    layout = JobLayout(job)
    assert "init done" in layout.user_stdout("process000").read_text()
    assert "ready" in layout.user_stderr("process000").read_text()
    assert "Completed" in layout.job_result.read_text()
    assert not layout.job_error.exists()
    assert "process000 started" in layout.master_log.read_text()
    assert "3 of 3 mini-batches processed" in layout.progress_overview.read_text()
    with layout.processed_mini_batches.open() as f:
        batches = list(csv.DictReader(f))
    assert [b["status"] for b in batches] == ["succeeded"] * 3
    assert [b["items"] for b in batches] == ["2", "2", "1"]
    with layout.manifest.open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["file", "status", "mini_batch", "attempts", "error", "seconds"]
    assert [r[:4] for r in rows[1:3]] == [
        [str(job.parent / "data" / "f00000.txt"), "succeeded", "0", "1"],
        [str(job.parent / "data" / "f00001.txt"), "succeeded", "0", "1"],
    ]


def test_dataframe_results_read_back_with_pandas(jobs: Jobs) -> None:
    import pandas as pd

    script = jobs.script(
        """
        import os
        import pandas as pd

        def run(mini_batch):
            names = [os.path.basename(p) for p in mini_batch]
            return pd.DataFrame({"file": names, "value": [len(n) * 1.5 for n in names]})
        """
    )
    job = jobs.job(jobs.files(7), script, mini_batch_size=3)
    assert jobs.run(job).state == "Completed"
    df = pd.read_csv(
        JobLayout(job).outputs / "predictions.csv", header=None, names=["file", "value"], sep=" "
    )
    assert list(df["file"]) == [f"f{i:05d}.txt" for i in range(7)]
    assert list(df["value"]) == [15.0] * 7


def test_summary_only_writes_no_output_file(jobs: Jobs) -> None:
    job = jobs.job(jobs.files(3), jobs.script(ECHO), output_action="summary_only")
    outcome = jobs.run(job)
    assert outcome.state == "Completed"
    assert outcome.progress.items_succeeded == 3
    assert list(JobLayout(job).outputs.iterdir()) == []
    assert "summary_only" in JobLayout(job).job_result.read_text()


def test_uri_file_scores_one_file(jobs: Jobs) -> None:
    data = jobs.files(3)
    job = jobs.job(data / "f00001.txt", jobs.script(ECHO), input_type="uri_file")
    assert jobs.run(job).state == "Completed"
    assert output_lines(job) == ["f00001.txt 1"]


def test_uri_file_refuses_a_folder(jobs: Jobs) -> None:
    data = jobs.files(1)
    outcome = jobs.run(jobs.job(data, jobs.script(ECHO), input_type="uri_file"))
    assert outcome.state == "Failed"
    assert outcome.message == (
        f"input {data} is a folder but the input type is uri_file; use type uri_folder"
    )


def _processes_of(job: Path) -> list[int]:
    """Live processes started for this job (workers carry FERRY_JOB_DIR)."""
    marker = b"FERRY_JOB_DIR=" + os.fsencode(str(job))
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def test_missing_input_fails_with_its_path(jobs: Jobs) -> None:
    job = jobs.job(jobs.tmp / "nope", jobs.script(ECHO), max_concurrency_per_instance=2)
    outcome = jobs.run(job)
    assert outcome.state == "Failed"
    assert f"input {jobs.tmp / 'nope'} does not exist" in outcome.message
    assert "does not exist" in JobLayout(job).job_error.read_text()
    assert _processes_of(job) == []  # the workers started during planning were ended


def test_workers_started_during_planning_run_it_and_the_surplus_stops(jobs: Jobs) -> None:
    # Workers start before the input is listed (a fresh job); with one mini-batch and three
    # workers, two are stopped, and every start and stop is in the journal.
    job = jobs.job(
        jobs.files(3), jobs.script(ECHO), mini_batch_size=5, max_concurrency_per_instance=3
    )
    outcome = jobs.run(job)
    assert outcome.state == "Completed", outcome.message
    assert output_lines(job) == ["f00000.txt 0", "f00001.txt 1", "f00002.txt 2"]
    states = [(e["w"], e["state"]) for e in events(job, "worker")]
    assert states[:3] == [(f"process00{i}", "started") for i in range(3)]
    assert ("process001", "stopped") in states and ("process002", "stopped") in states
    assert ("process000", "ready") in states and ("process001", "ready") not in states
    assert {e["w"] for e in events(job, "ok")} == {"process000"}
    assert _processes_of(job) == []


def test_empty_folder_completes_with_an_empty_output(jobs: Jobs) -> None:
    data = jobs.tmp / "empty"
    data.mkdir()
    job = jobs.job(data, jobs.script(ECHO))
    outcome = jobs.run(job)
    assert outcome.state == "Completed"
    assert outcome.progress.items_total == 0
    assert (JobLayout(job).outputs / "predictions.csv").read_bytes() == b""
    assert f"the input held no files ({data})" in outcome.message
    assert "Notice: the input held no files" in JobLayout(job).job_result.read_text()
    # Nothing to do: the worker started while the input was listed is stopped before it runs.
    assert [e["state"] for e in events(job, "worker")] == ["started", "stopped"]
    assert "process000 stopped before it was needed" in JobLayout(job).master_log.read_text()


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file systems refuse non-UTF-8 names")
def test_names_that_are_not_utf8_reach_the_script_as_os_listdir_gives_them(jobs: Jobs) -> None:
    data = jobs.tmp / "odd"
    data.mkdir()
    names = [b"caf\xe9.txt", b"ok.txt", b"\xff\xfe.bin", b"new\nline.txt", b"back\\slash.txt"]
    for raw in names:
        with open(os.path.join(os.fsencode(data), raw), "wb") as f:  # noqa: PTH118, PTH123
            f.write(b"x")
    script = jobs.script(
        """
        import os

        def run(mini_batch):
            out = []
            for p in mini_batch:
                assert os.path.basename(p) in os.listdir(os.path.dirname(p)), p
                assert open(p).read() == "x"
                out.append(ascii(os.path.basename(p)))
            return out
        """
    )
    job = jobs.job(data, script, mini_batch_size=2)
    outcome = jobs.run(job)
    assert outcome.state == "Completed", outcome.message
    assert output_lines(job) == [ascii(os.fsdecode(n)) for n in sorted(names)]
    manifest = JobLayout(job).manifest.read_bytes()
    assert os.fsencode(data) + b"/caf\xe9.txt,succeeded" in manifest


def test_workers_get_azure_environment_arguments_and_code_folder(jobs: Jobs) -> None:
    model = jobs.tmp / "model"
    model.mkdir()
    script = jobs.script(
        """
        import json, os, sys

        def init():
            out = os.environ["AZUREML_BI_OUTPUT_PATH"]
            info = {k: os.environ.get(k) for k in ("AZUREML_MODEL_DIR", "AZUREML_BI_OUTPUT_PATH",
                                                    "MY_SETTING", "FERRY_WORKER_ID")}
            info["cwd"] = os.getcwd()
            info["argv"] = sys.argv[1:]
            with open(os.path.join(out, "env.json"), "w") as f:
                json.dump(info, f)

        def run(mini_batch):
            return mini_batch
        """
    )
    job = jobs.job(
        jobs.files(1),
        script,
        model_dir=str(model),
        environment_variables={"MY_SETTING": "42"},
        program_arguments=["--threshold", "0.5"],
        logging_level="debug",
    )
    assert jobs.run(job).state == "Completed"
    info = json.loads((JobLayout(job).outputs / "env.json").read_text())
    assert info == {
        "AZUREML_MODEL_DIR": str(model),
        "AZUREML_BI_OUTPUT_PATH": str(JobLayout(job).outputs),
        "MY_SETTING": "42",
        "FERRY_WORKER_ID": "process000",
        "cwd": str(script.parent),
        "argv": ["--threshold", "0.5", "--logging_level", "debug"],
    }


def test_a_finished_job_returns_its_recorded_outcome(jobs: Jobs) -> None:
    job = jobs.job(jobs.files(3), jobs.script(ECHO))
    first = jobs.run(job)
    again = jobs.run(job)
    assert (again.state, again.message) == (first.state, first.message)
    assert len(events(job, "session")) == 1  # nothing ran again
    assert again.progress.items_succeeded == 3


def test_a_job_folder_runs_in_one_engine_at_a_time(jobs: Jobs) -> None:
    import fcntl

    from ferry.errors import ConflictError

    job = jobs.job(jobs.files(1), jobs.script(ECHO))
    layout = JobLayout(job)
    layout.state.mkdir()
    with layout.lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(ConflictError, match="already running in another engine"):
            jobs.run(job)


def test_missing_job_json_is_not_found(tmp_path: Path) -> None:
    from ferry.backends.local import LocalCompute
    from ferry.batch.engine import run_job
    from ferry.errors import NotFoundError

    with pytest.raises(NotFoundError, match=r"job\.json does not exist"):
        run_job(tmp_path, compute=LocalCompute())


def test_an_invalid_definition_fails_naming_the_fields(jobs: Jobs) -> None:
    job = jobs.job(jobs.files(1), jobs.script(ECHO), mini_batch_size=0, output_file_name="../x")
    outcome = jobs.run(job)
    assert outcome.state == "Failed"
    assert outcome.message == (
        "job.json is invalid: mini_batch_size must be at least 1, got 0; "
        "output_file_name must be a plain file name, got '../x'"
    )
    assert outcome.message in JobLayout(job).job_error.read_text()


def test_returning_paths_that_are_not_utf8_writes_their_bytes(jobs: Jobs) -> None:
    data = jobs.tmp / "odd"
    data.mkdir()
    with open(os.path.join(os.fsencode(data), b"caf\xe9.txt"), "wb"):  # noqa: PTH118, PTH123
        pass
    job = jobs.job(data, jobs.script("def run(mini_batch):\n    return mini_batch\n"))
    assert jobs.run(job).state == "Completed"
    out = (JobLayout(job).outputs / "predictions.csv").read_bytes()
    assert out == os.fsencode(data) + b"/caf\xe9.txt\n"


def test_manifest_quotes_names_and_errors_as_csv_does(jobs: Jobs) -> None:
    data = jobs.tmp / "data"
    data.mkdir()
    names = ["a,b.txt", 'say "hi".txt', "line\nbreak.txt", "plain.txt", "x\\y.txt"]
    for name in names:
        (data / name).write_text("x")
    script = jobs.script(
        """
        import os

        def run(mini_batch):
            if any("plain" in p for p in mini_batch):
                raise ValueError('bad, "quoted"\\nvalue')
            return [os.path.basename(p).replace("\\n", " ") for p in mini_batch]
        """
    )
    job = jobs.job(data, script, mini_batch_size=2, max_retries=0)
    assert jobs.run(job).state == "Completed"
    with JobLayout(job).manifest.open(newline="") as f:
        rows = list(csv.DictReader(f))
    by_name = {Path(r["file"]).name: r for r in rows}
    assert sorted(by_name) == sorted(names)
    assert [r["mini_batch"] for r in rows] == ["0", "0", "1", "1", "2"]
    failed = {n for n, r in by_name.items() if r["status"] == "failed"}
    assert "plain.txt" in failed and len(failed) == 2  # its mini-batch-mate failed with it
    assert all(by_name[n]["error"].endswith('ValueError: bad, "quoted" value') for n in failed)
    assert all(by_name[n]["status"] == "succeeded" for n in set(names) - failed)


SLOW_SECOND_INIT = """
import os
import time
from pathlib import Path

MARK = Path(os.environ["AZUREML_BI_OUTPUT_PATH"]) / "process001-in-init"

def init():
    if os.environ["FERRY_WORKER_ID"] == "process001":
        MARK.touch()  # ready a moment after this

def run(mini_batch):
    # process000 holds its first mini-batch until process001 is (nearly) ready: the second
    # mini-batch is then either queued behind this one already, or left for process001.
    deadline = time.monotonic() + 60
    while not MARK.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1)
    return [os.environ["FERRY_WORKER_ID"] for _ in mini_batch]
"""


def test_a_worker_still_in_init_keeps_its_share_of_a_small_job(jobs: Jobs) -> None:
    # 2 mini-batches for 2 workers: the first one ready must not queue both.
    job = jobs.job(
        jobs.files(2), jobs.script(SLOW_SECOND_INIT), mini_batch_size=1, instance_count=2
    )
    assert jobs.run(job).state == "Completed"
    assert sorted(output_lines(job)) == ["process000", "process001"]
