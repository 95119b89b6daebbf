"""Batch CLI errors: one ``ERROR:`` line naming what is wrong, exit 1; usage errors exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.batch_setup import make_inputs, write_project
from tests.cli.conftest import Ferry

ENDPOINT = "cli-err-ep"


def _error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), stderr
    return lines[0]


@pytest.fixture(scope="module")
def project(ferry: Ferry, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("batch-errors")
    endpoint_yml, deployment_yml = write_project(folder, ENDPOINT, "echo")
    ferry("batch-endpoint", "create", "-f", endpoint_yml, "-o", "none")
    ferry("batch-deployment", "create", "-f", deployment_yml, "-o", "none")
    make_inputs(folder / "inputs", 2)
    return folder


@pytest.mark.parametrize(
    "args",
    [
        ("batch-endpoint", "show", "--name", "ghost-ep"),
        ("batch-endpoint", "invoke", "--name", "ghost-ep", "--input", "."),
        ("batch-endpoint", "list-jobs", "--name", "ghost-ep"),
        ("batch-endpoint", "update", "--name", "ghost-ep", "--set", "description=x"),
        ("batch-endpoint", "delete", "--name", "ghost-ep", "--yes"),
        ("batch-deployment", "list", "--endpoint-name", "ghost-ep"),
        ("job", "list", "--endpoint-name", "ghost-ep"),
    ],
)
def test_missing_endpoint_is_named(ferry: Ferry, args: tuple[str, ...]) -> None:
    line = _error(ferry(*args, expect=1).stderr)
    assert "batch endpoint 'ghost-ep' does not exist" in line
    assert "ferry batch-endpoint list" in line


def test_missing_deployment_and_job_are_named(ferry: Ferry, project: Path) -> None:
    invoke = ("batch-endpoint", "invoke", "-n", ENDPOINT, "--input", project / "inputs")
    line = _error(ferry(*invoke, "--deployment-name", "nope", expect=1).stderr)
    assert f"batch deployment 'nope' of endpoint '{ENDPOINT}' does not exist" in line
    line = _error(ferry("job", "show", "--name", "no-such-job", expect=1).stderr)
    assert "job 'no-such-job' does not exist" in line
    line = _error(ferry("job", "stream", "--name", "no-such-job", expect=1).stderr)
    assert "no-such-job" in line
    missing = project / "not-there"
    line = _error(
        ferry("batch-endpoint", "invoke", "-n", ENDPOINT, "--input", missing, expect=1).stderr
    )
    assert str(missing) in line


def test_job_failing_while_preparing_still_has_logs(
    ferry: Ferry, project: Path, tmp_path: Path
) -> None:
    ferry(
        "batch-deployment",
        "create",
        "-f",
        project / "deployment.yml",
        "-n",
        "noscript",
        "--set",
        "settings.environment_variables.TOKEN=${{secrets.ghost-secret}}",
        "-o",
        "none",
    )
    name = ferry(
        "batch-endpoint",
        "invoke",
        "-n",
        ENDPOINT,
        "-d",
        "noscript",
        "--input",
        project / "inputs",
        "--query",
        "name",
        "-o",
        "tsv",
    ).stdout.strip()
    streamed = ferry("job", "stream", "--name", name, expect=1)
    assert "references secret 'ghost-secret', which does not exist" in streamed.stdout
    line = _error(streamed.stderr)
    assert "ferry secret set ghost-secret" in line
    assert "job resume" not in line  # nothing ran, so there is nothing to resume
    got = ferry.json("job", "download", "-n", name, "-p", tmp_path, "--all")
    assert "outputs" not in got
    assert (tmp_path / "logs" / "job_error.txt").is_file()


def test_unknown_set_keys_are_named(ferry: Ferry, project: Path) -> None:
    invoke = ("batch-endpoint", "invoke", "-n", ENDPOINT, "--input", project / "inputs")
    line = _error(ferry(*invoke, "--set", "colour=red", expect=1).stderr)
    assert "cannot override colour" in line
    assert "mini_batch_size" in line and "output_file_name" in line  # what can be overridden
    line = _error(ferry(*invoke, "--set", "mini_batch_size=many", expect=1).stderr)
    assert "mini_batch_size='many' must be a whole number" in line

    update = ("batch-endpoint", "update", "-n", ENDPOINT, "--set")
    assert "unknown field 'colour'" in _error(ferry(*update, "colour=red", expect=1).stderr)
    line = _error(ferry(*update, "defaults.deployment=echo", expect=1).stderr)
    assert "unknown key(s) ['deployment']" in line and "deployment_name" in line
    line = _error(ferry(*update, "defaults.deployment_name=nope", expect=1).stderr)
    assert "batch deployment 'nope'" in line

    create = ("batch-deployment", "create", "-f", project / "deployment.yml", "--set")
    line = _error(ferry(*create, "settings.mini_batch_sise=3", expect=1).stderr)
    assert "unknown field 'settings.mini_batch_sise'" in line
    assert "deployment.yml" in line


def test_bad_download_output_and_environment_reference(ferry: Ferry) -> None:
    line = _error(ferry("job", "download", "-n", "x", "--output-name", "preds", expect=1).stderr)
    assert "one output, 'score', not 'preds'" in line
    line = _error(ferry("environment", "build", "ghost-env@1", expect=1).stderr)
    assert "ghost-env" in line


@pytest.mark.parametrize(
    "args",
    [
        ("batch-endpoint", "invoke", "--name", "x"),  # --input is required
        ("batch-endpoint", "invoke", "-n", "x", "--input", ".", "--input-type", "mltable"),
        ("batch-endpoint", "update", "--name", "x"),  # nothing to update
        ("batch-deployment", "create", "--endpoint-name", "x"),  # --file is required
        ("batch-deployment", "show", "--name", "x"),  # --endpoint-name is required
        ("job", "stream"),
        ("environment", "build"),
        ("environment", "build", "azureml://datastores/x/paths/y"),
    ],
)
def test_usage_errors_exit_2(ferry: Ferry, args: tuple[str, ...]) -> None:
    result = ferry(*args, expect=2)
    assert "Usage:" in result.stderr or "Error:" in result.stderr
