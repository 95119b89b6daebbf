"""``ferry batch-deployment run --local``: a batch script over local files, in process, with the
job's mini-batch rules (append_row, error_threshold), arguments, secrets and AZUREML_MODEL_DIR."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli.local_serve import clean_env

DRIVER = """\
import argparse
import os

from azureml.core import Run


def init():
    global prefix, key
    parser = argparse.ArgumentParser()
    parser.add_argument("--prefix", default="none")
    args, _ = parser.parse_known_args()
    prefix = args.prefix
    key = Run.get_context().experiment.workspace.get_default_keyvault().get_secret("api-key")
    assert os.path.isfile(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "w.txt"))


def run(mini_batch):
    rows = []
    for path in mini_batch:
        text = open(path).read().strip()
        if text == "bad":
            raise ValueError("cannot score " + os.path.basename(path))
        rows.append(f"{prefix},{os.path.basename(path)},{text},{key}")
    with open(os.path.join(os.environ["AZUREML_BI_OUTPUT_PATH"], "seen.txt"), "a") as f:
        f.write(str(len(mini_batch)) + "\\n")
    return rows
"""


def _project(folder: Path, files: dict[str, str], threshold: int = -1) -> Path:
    (folder / "code").mkdir(parents=True)
    (folder / "code" / "driver.py").write_text(DRIVER)
    (folder / "model").mkdir()
    (folder / "model" / "w.txt").write_text("weights")
    for name, text in files.items():
        path = folder / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    deployment = folder / "deployment.yml"
    deployment.write_text(
        textwrap.dedent(
            f"""\
            $schema: https://azuremlschemas.azureedge.net/latest/modelBatchDeployment.schema.json
            name: local-batch
            endpoint_name: my-batch
            type: model
            model:
              path: model
            code_configuration:
              code: code
              scoring_script: driver.py
            properties:
              ferry_secrets: [api-key]
            settings:
              mini_batch_size: 2
              arguments: --prefix P
              error_threshold: {threshold}
            """
        )
    )
    return deployment


def _run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "ferry.cli.main", "batch-deployment", "run", *args]
    return subprocess.run(
        command,
        cwd=folder,
        env=clean_env(folder / "ws"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_run_writes_predictions_csv_with_the_deployments_settings(tmp_path: Path) -> None:
    deployment = _project(tmp_path, {"a.txt": "1", "b.txt": "2", "c.txt": "3", "sub/d.txt": "4"})
    result = _run(tmp_path, "-f", str(deployment), "--local", "--input", "data",
                  "--output-dir", "out", "--secret", "api-key=s3cret")  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert (out / "predictions.csv").read_text().splitlines() == [
        "P,a.txt,1,s3cret",
        "P,b.txt,2,s3cret",
        "P,c.txt,3,s3cret",
        "P,d.txt,4,s3cret",
    ]
    # Two mini-batches of two files: AZUREML_BI_OUTPUT_PATH is the output folder.
    assert (out / "seen.txt").read_text().split() == ["2", "2"]
    assert f"output folder: {out}" in result.stdout
    assert "4 items succeeded, 0 failed" in result.stdout
    # --mini-batch-size overrides the deployment's, as az's invoke option does.
    result = _run(tmp_path, "-f", str(deployment), "--input", "data", "--output-dir", "out3",
                  "--secret", "api-key=s3cret", "--mini-batch-size", "3")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out3" / "seen.txt").read_text().split() == ["3", "1"]


def test_a_failing_mini_batch_shows_the_line_and_the_threshold_stops_the_run(
    tmp_path: Path,
) -> None:
    files = {"a.txt": "1", "b.txt": "bad", "c.txt": "3", "d.txt": "4", "e.txt": "bad"}
    deployment = _project(tmp_path, files, threshold=2)
    args = ("-f", str(deployment), "--input", "data", "--output-dir", "out")
    result = _run(tmp_path, *args, "--secret", "api-key=k")
    assert result.returncode == 1, result.stderr
    assert "mini-batch 0 (2 files) failed:" in result.stderr
    assert "run() failed: ValueError: cannot score b.txt" in result.stderr
    source = 'raise ValueError("cannot score " + os.path.basename(path))'
    assert f"at driver.py:22 in run(): {source}" in result.stderr
    assert "stopping: 3 failed items are more than error_threshold 2" in result.stderr
    assert (tmp_path / "out" / "predictions.csv").read_text().splitlines() == [
        "P,c.txt,3,k",
        "P,d.txt,4,k",
    ]
    # --set reaches the settings as on create: -1 tolerates every failure.
    result = _run(tmp_path, *args, "--secret", "api-key=k", "--set", "settings.error_threshold=-1")
    assert result.returncode == 0, result.stderr
    assert "2 items succeeded, 3 failed" in result.stdout  # a failed mini-batch fails its files


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ([], "pass --secret api-key=VALUE to `ferry batch-deployment run -f"),
        (["--secret", "api-key"], "--secret 'api-key' is not NAME=VALUE"),
        (["--set", "code_configuration.scoring_script=nope.py", "--secret", "api-key=k"],
         "scoring_script 'nope.py' is not in the code folder"),
        (["--set", "model.path=missing", "--secret", "api-key=k"], "model.path"),
    ],
)  # fmt: skip
def test_errors_name_the_fix(tmp_path: Path, extra: list[str], expected: str) -> None:
    deployment = _project(tmp_path, {"a.txt": "1"})
    result = _run(tmp_path, "-f", str(deployment), "--input", "data", *extra)
    assert result.returncode == 1
    assert expected in result.stderr, result.stderr


def test_a_missing_input_names_the_option(tmp_path: Path) -> None:
    deployment = _project(tmp_path, {"a.txt": "1"})
    result = _run(
        tmp_path, "-f", str(deployment), "--input", "nothing-here", "--secret", "api-key=k"
    )
    assert result.returncode == 1
    assert "--input nothing-here does not exist; pass a local file or folder" in result.stderr


def test_a_pdb_breakpoint_in_run_is_hit(tmp_path: Path) -> None:
    # The point of running in process: a debugger that started `ferry` stops in the user's run().
    deployment = _project(tmp_path, {"a.txt": "1", "b.txt": "2", "c.txt": "3"})
    driver = tmp_path / "code" / "driver.py"
    line = DRIVER.splitlines().index("    rows = []") + 1
    commands = f"break {driver}:{line}\ncontinue\np len(mini_batch)\nclear 1\ncontinue\n"
    result = subprocess.run(
        [sys.executable, "-m", "pdb", "-m", "ferry.cli.main", "batch-deployment", "run",
         "-f", str(deployment), "--input", "data", "--output-dir", "out",
         "--secret", "api-key=k"],
        cwd=tmp_path, env=clean_env(tmp_path / "ws"), input=commands, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert f"> {driver}({line})run()" in result.stdout, result.stdout + result.stderr
    assert "(Pdb) 2\n" in result.stdout  # the first mini-batch, seen from inside run()
    assert (tmp_path / "out" / "predictions.csv").read_text().count("\n") == 3


def test_the_digits_example_runs_unchanged(tmp_path: Path) -> None:
    # examples/digits-batch as its README deploys it: its deployment.yml and batch_driver.py.
    from tests.examples.support import copy_example, load_script

    example = copy_example("digits-batch", tmp_path)
    load_script(example / "train.py").train(example, 30)
    result = _run(example, "-f", "deployment.yml", "--local", "--input", "data",
                  "--output-dir", "out")  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = (example / "out" / "predictions.csv").read_text().splitlines()
    assert len(rows) == 30
    right = sum(int(name.split("label")[1][0]) == int(label) for name, label in
                (row.split(" ") for row in rows))  # fmt: skip
    assert right >= 24  # the example's SVC is ~98% accurate on held-out digits
    assert "30 items succeeded, 0 failed" in result.stdout
