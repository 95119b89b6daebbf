"""The batch scoring-script contract through the ``ferry`` CLI: ``--set arguments=...`` at create
and at invoke, the overwritten-output warning and a hung ``init()`` in ``ferry job stream`` and
``ferry job show``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.batch_setup import make_inputs, write_project
from tests.cli.conftest import Ferry

ENDPOINT = "cli-contract-ep"

ARGS_DRIVER = """\
import argparse


def init():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--model_name")
    args, _ = parser.parse_known_args()


def run(mini_batch):
    return [f"model={args.model_name}" for _ in mini_batch]
"""

SAME_FILE_DRIVER = """\
import os


def run(mini_batch):
    with open(os.path.join(os.environ["AZUREML_BI_OUTPUT_PATH"], "out.txt"), "w") as f:
        f.write(str(len(mini_batch)))
    return mini_batch
"""

HANGING_DRIVER = """\
import time


def init():
    time.sleep(600)


def run(mini_batch):
    return mini_batch
"""


@pytest.fixture(scope="module")
def project(ferry: Ferry, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("contract-project")
    endpoint_yml, deployment_yml = write_project(folder, ENDPOINT, "args")
    for name, source in (
        ("args_driver.py", ARGS_DRIVER),
        ("same_file_driver.py", SAME_FILE_DRIVER),
        ("hanging_driver.py", HANGING_DRIVER),
    ):
        (folder / "code" / name).write_text(source, encoding="utf-8")
    ferry("batch-endpoint", "create", "-f", endpoint_yml, "-o", "none")
    for name, script, extra in (
        ("args", "args_driver.py", "arguments=--model_name mosaic"),
        ("same-file", "same_file_driver.py", "init_timeout=60"),
        ("hanging", "hanging_driver.py", "init_timeout=1"),
    ):
        made = ferry.json(
            "batch-deployment",
            "create",
            "--file",
            deployment_yml,
            "--name",
            name,
            "--set",
            f"code_configuration.scoring_script={script}",
            extra,
        )
        assert made["name"] == name
    make_inputs(folder / "inputs", 4)
    return folder


def _invoke(ferry: Ferry, project: Path, deployment: str, *sets: str) -> str:
    args = ["--set", *sets] if sets else []
    return ferry(
        "batch-endpoint",
        "invoke",
        "--name",
        ENDPOINT,
        "--deployment-name",
        deployment,
        "--input",
        project / "inputs",
        *args,
        "--query",
        "name",
        "-o",
        "tsv",
    ).stdout.strip()


def test_arguments_set_at_create_and_overridden_at_invoke(ferry: Ferry, project: Path) -> None:
    shown = ferry.json("batch-deployment", "show", "-n", "args", "-e", ENDPOINT)
    assert shown["settings"]["arguments"] == ["--model_name", "mosaic"]
    name = _invoke(ferry, project, "args")
    ferry("job", "stream", "--name", name)
    ferry("job", "download", "--name", name, "-p", project / name, "-o", "none")
    scores = next((project / name).rglob("predictions.csv")).read_text().splitlines()
    assert scores == ["model=mosaic"] * 4

    name = _invoke(ferry, project, "args", "arguments=--model_name resnet --extra 1")
    ferry("job", "stream", "--name", name)
    ferry("job", "download", "--name", name, "-p", project / name, "-o", "none")
    scores = next((project / name).rglob("predictions.csv")).read_text().splitlines()
    assert scores == ["model=resnet"] * 4


def test_overwritten_output_is_a_warning_in_stream_and_show(ferry: Ferry, project: Path) -> None:
    name = _invoke(ferry, project, "same-file")
    out = ferry("job", "stream", "--name", name).stdout
    warning = "output file out.txt was written by mini-batch 0 and again by mini-batch 1"
    assert f"[warning] {warning}" in out or f"Warning: {warning}" in out
    assert f"Warning: {warning}" in out  # job_result.txt, printed at the end
    shown = ferry.json("job", "show", "--name", name)
    assert shown["status"] == "Completed"
    assert shown["progress"]["warnings"][0].startswith(warning)


def test_a_hung_init_ends_and_says_where_it_waits(ferry: Ferry, project: Path) -> None:
    name = _invoke(ferry, project, "hanging")
    out = ferry("job", "stream", "--name", name, expect=1).stdout
    assert "1 worker in init() for" in out  # the progress overview, as it was written
    assert "was not ready within init_timeout (1 s)" in out
    assert "raise settings.init_timeout in the deployment" in out
    shown = ferry.json("job", "show", "--name", name)
    assert shown["status"] == "Failed"
    assert "init_timeout (1 s)" in shown["error"]
