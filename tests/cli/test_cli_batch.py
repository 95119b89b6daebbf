"""``ferry batch-endpoint|batch-deployment|job`` against a real server and real worker processes.

The deployments use ``environment: ferry:server-python`` (the documented development option that
runs the scoring script in the server's interpreter), so no virtualenv is built here.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from tests.cli.batch_setup import make_inputs, run_in_pty, write_project
from tests.cli.conftest import Ferry

ENDPOINT = "cli-batch-ep"


@pytest.fixture(scope="module")
def project(ferry: Ferry, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An endpoint with two deployments from YAML files: ``echo`` (default) and ``broken``."""
    folder = tmp_path_factory.mktemp("batch-project")
    endpoint_yml, deployment_yml = write_project(folder, ENDPOINT, "echo")
    made = ferry.json("batch-endpoint", "create", "-f", endpoint_yml)
    assert (made["name"], made["description"]) == (ENDPOINT, "Scores text files.")
    echo = ferry.json("batch-deployment", "create", "--file", deployment_yml, "--set-default")
    assert echo["code_configuration"]["code"].startswith("azureml:")  # the folder was registered
    assert echo["settings"]["mini_batch_size"] == 2
    # The same file, renamed and pointed at a script whose run() raises for every file.
    broken = ferry.json(
        "batch-deployment",
        "create",
        "--file",
        deployment_yml,
        "--name",
        "broken",
        "--endpoint-name",
        ENDPOINT,
        "--set",
        "code_configuration.scoring_script=failing_driver.py",
        cwd=tmp_path_factory.getbasetemp(),  # relative paths resolve against the file, not here
    )
    assert broken["name"] == "broken"
    make_inputs(folder / "inputs", 7)
    return folder


def test_endpoint_and_deployments_are_listed(ferry: Ferry, project: Path) -> None:
    assert ferry.json("batch-endpoint", "show", "--name", ENDPOINT, "--query", "defaults") == {
        "deployment_name": "echo"
    }
    assert ENDPOINT in ferry.json("batch-endpoint", "list", "--query", "[].name")
    names = ferry(
        "batch-deployment", "list", "--endpoint-name", ENDPOINT, "--query", "[].name", "-o", "tsv"
    )
    assert sorted(names.stdout.split()) == ["broken", "echo"]
    shown = ferry.json("batch-deployment", "show", "-n", "broken", "-e", ENDPOINT)
    assert shown["code_configuration"]["scoring_script"] == "failing_driver.py"


def test_invoke_stream_and_download(ferry: Ferry, project: Path, tmp_path: Path) -> None:
    name = ferry(
        "batch-endpoint",
        "invoke",
        "--name",
        ENDPOINT,
        "--input",
        project / "inputs",
        "--set",
        "output_file_name=scores.csv",
        "environment_variables.SLEEP=0.05",
        "--mini-batch-size",
        "3",
        "--query",
        "name",
        "-o",
        "tsv",
    ).stdout.strip()
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]+", name), name

    streamed = ferry("job", "stream", "--name", name)
    out = streamed.stdout
    assert "[stdout/process000] init done" in out
    assert "[stdout/process000] scored 3 files" in out
    assert "[progress] Completed: 7/7 items (0 failed), mini-batches 3/3 (0 failed)" in out
    assert "===== logs/job_result.txt =====" in out
    assert f"Job {name}: Completed" in out
    assert "job_error.txt" not in out
    assert streamed.stderr == ""

    job = ferry.json("job", "show", "--name", name)
    assert job["status"] == "Completed"
    assert job["overrides"]["environment_variables"] == {"SLEEP": "0.05"}  # kept as typed
    assert job["progress"]["mini_batches_total"] == 3

    result = ferry.json(
        "job", "download", "--name", name, "--download-path", "dl", "--all", cwd=tmp_path
    )
    rows = list(csv.reader((tmp_path / "dl/named-outputs/score/scores.csv").open()))
    assert sorted(rows) == [[f"item-{i:03d}.txt", str(i * 10)] for i in range(7)]
    assert (tmp_path / "dl/logs/job_result.txt").is_file()
    assert list((tmp_path / "dl/logs/user/stdout").glob("*.txt"))
    assert Path(result["outputs"]) == (tmp_path / "dl/named-outputs/score").resolve()

    ferry("job", "download", "--name", name, "-p", tmp_path / "only", "-o", "none")
    assert (tmp_path / "only/named-outputs/score/scores.csv").is_file()
    assert not (tmp_path / "only/logs").exists()

    listed = ferry.json(
        "batch-deployment", "list-jobs", "--name", "echo", "--endpoint-name", ENDPOINT
    )
    assert name in [j["name"] for j in listed]
    assert name in ferry.json("job", "list", "--endpoint-name", ENDPOINT, "--query", "[].name")
    assert name in ferry.json(
        "batch-endpoint", "list-jobs", "--name", ENDPOINT, "--query", "[].name"
    )


def test_failing_job_streams_the_error_and_exits_1(ferry: Ferry, project: Path) -> None:
    name = ferry(
        "batch-endpoint",
        "invoke",
        "-n",
        ENDPOINT,
        "-d",
        "broken",
        "--input",
        project / "inputs",
        "--job-name",
        "cli-broken-job",
        "--query",
        "name",
        "-o",
        "tsv",
    ).stdout.strip()
    assert name == "cli-broken-job"
    streamed = ferry("job", "stream", "--name", name, expect=1)
    assert "===== logs/job_error.txt =====" in streamed.stdout
    assert "ValueError: cannot score item-" in streamed.stdout
    assert "bad pixels" in streamed.stdout
    error = streamed.stderr.strip().splitlines()
    assert len(error) == 1 and error[0].startswith(f"ERROR: job '{name}' failed: "), streamed.stderr
    assert "error_threshold" in error[0]
    assert "ferry job resume --name cli-broken-job" in error[0]
    assert "ferry job download --name cli-broken-job --all" in error[0]

    # Resume reruns only what failed; the script still raises, so the job fails again.
    resumed = ferry.json("job", "resume", "--name", name)
    assert resumed["status"] in ("Queued", "Preparing", "Running", "Failed")
    ferry("job", "stream", "--name", name, expect=1)
    assert name in ferry.json("job", "list", "--deployment-name", "broken", "--query", "[].name")


def test_update_moves_the_default(ferry: Ferry, project: Path) -> None:
    moved = ferry.json(
        "batch-endpoint", "update", "--name", ENDPOINT, "--set", "defaults.deployment_name=broken"
    )
    assert moved["defaults"] == {"deployment_name": "broken"}
    assert moved["description"] == "Scores text files."  # the rest is kept
    ferry(
        "batch-endpoint",
        "update",
        "-n",
        ENDPOINT,
        "--set",
        "defaults.deployment_name=echo",
        "-o",
        "none",
    )
    assert (
        ferry.json("batch-endpoint", "show", "-n", ENDPOINT, "--query", "defaults.deployment_name")
        == "echo"
    )

    updated = ferry.json(
        "batch-deployment",
        "update",
        "-n",
        "echo",
        "-e",
        ENDPOINT,
        "--set",
        "settings.mini_batch_size=4",
    )
    assert updated["settings"]["mini_batch_size"] == 4
    assert updated["code_configuration"]["scoring_script"] == "batch_driver.py"


def test_set_replaces_the_inline_environment_with_a_reference(
    ferry: Ferry, project: Path, tmp_path: Path
) -> None:
    conda = tmp_path / "conda.yml"
    conda.write_text(
        "dependencies:\n  - python=3.11\n  - pip:\n    - six==1.16.0\n", encoding="utf-8"
    )
    ferry("environment", "create", "--name", "cli-six-env", "--conda-file", conda, "-o", "none")
    spec = tmp_path / "deployment.yml"
    text = (project / "deployment.yml").read_text(encoding="utf-8")
    inline = "environment:\n  conda_file: conda.yml\n  image: mcr.microsoft.com/azureml/base\n"
    spec.write_text(
        text.replace("environment: ferry:server-python\n", inline).replace(
            "code: code", f"code: {project / 'code'}"
        ),
        encoding="utf-8",
    )
    made = ferry.json(
        "batch-deployment",
        "create",
        "-f",
        spec,
        "-n",
        "by-ref",
        "--set",
        "environment=azureml:cli-six-env@latest",
    )
    # Pinned at create time, as Azure does: a newer version later does not change it.
    assert made["environment"] == "azureml:cli-six-env:1"
    ferry("batch-deployment", "delete", "-n", "by-ref", "-e", ENDPOINT, "--yes")
    assert "by-ref" not in ferry.json(
        "batch-deployment", "list", "-e", ENDPOINT, "--query", "[].name"
    )


def test_stream_on_a_terminal_draws_a_progress_bar(ferry: Ferry, project: Path) -> None:
    name = ferry(
        "batch-endpoint",
        "invoke",
        "-n",
        ENDPOINT,
        "--input",
        project / "inputs",
        "--set",
        "environment_variables.SLEEP=0.4",
        "--query",
        "name",
        "-o",
        "tsv",
    ).stdout.strip()
    code, raw = run_in_pty(ferry, "job", "stream", "--name", name)
    assert code == 0, raw
    assert "\x1b[" in raw  # drawn with terminal control sequences
    output = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw)
    assert "━━━━━━━━━━" in output  # Rich's bar
    assert re.search(r"Completed +━+ +100% 7/7 items \(0 failed\)", output), output
    assert "[stdout/process000] init done" in output
    assert "[progress]" not in output  # the plain lines are for pipes only


def test_canceled_job_streams_exit_1(ferry: Ferry, project: Path) -> None:
    name = ferry(
        "batch-endpoint",
        "invoke",
        "-n",
        ENDPOINT,
        "--input",
        project / "inputs",
        "--set",
        "environment_variables.SLEEP=30",
        "--query",
        "name",
        "-o",
        "tsv",
    ).stdout.strip()
    assert ferry.json("job", "cancel", "--name", name)["name"] == name
    streamed = ferry("job", "stream", "--name", name, expect=1)
    assert "[progress] Canceled" in streamed.stdout
    assert f"Job {name}: Canceled" in streamed.stdout
    assert streamed.stderr.startswith(f"ERROR: job '{name}' canceled")


@pytest.mark.parametrize("how", ["data-asset", "in-place"])
def test_invoke_other_inputs(ferry: Ferry, project: Path, how: str) -> None:
    if how == "data-asset":
        data = ("data", "create", "-n", "cli-inputs", "-p", project / "inputs", "-o", "none")
        ferry(*data)
        source: tuple[str | Path, ...] = ("--input", "azureml:cli-inputs@latest")
    else:
        source = ("--input", project / "inputs", "--input-in-place")
    job = ferry.json("batch-endpoint", "invoke", "-n", ENDPOINT, *source)
    if how == "in-place":
        assert job["input"]["path"] == f"file://{(project / 'inputs').resolve()}"
    else:
        assert job["input"] == {
            "type": "uri_folder",
            "path": "azureml:cli-inputs@latest",
            "name": "input_data",  # Azure's name of a model deployment's one input
        }
    streamed = ferry("job", "stream", "--name", job["name"])
    assert "[progress] Completed: 7/7 items" in streamed.stdout
