"""``ferry batch-endpoint invoke --input ./folder`` stages the folder by content: links on a local
workspace, one archive with FERRY_INPUT_STAGING=archive, and no data version, so a refused invoke
leaves none behind (the real ``ferry`` command against a real server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.services.staging import INPUT_FOLDER
from tests.cli.batch_setup import make_inputs, write_project
from tests.cli.conftest import Ferry

ENDPOINT = "cli-stage-ep"


@pytest.fixture(scope="module")
def project(ferry: Ferry, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("staging")
    endpoint_yml, deployment_yml = write_project(folder, ENDPOINT, "echo")
    ferry("batch-endpoint", "create", "-f", endpoint_yml, "-o", "none")
    ferry("batch-deployment", "create", "-f", deployment_yml, "-o", "none")
    make_inputs(folder / "inputs", 6)
    return folder


def _invoke(ferry: Ferry, folder: Path, *extra: str, env: dict[str, str] | None = None) -> str:
    result = ferry(
        "batch-endpoint", "invoke", "-n", ENDPOINT, "--input", folder, *extra,
        "--query", "name", "-o", "tsv", env=env,
    )  # fmt: skip
    return result.stdout.strip()


def _scores(ferry: Ferry, job: str, dest: Path) -> list[str]:
    ferry("job", "stream", "-n", job, "-o", "none")
    ferry("job", "download", "-n", job, "--output-name", "score", "--download-path", dest)
    return sorted(next(dest.rglob("predictions.csv")).read_text().splitlines())


def test_invoke_links_the_folder_and_archive_gives_the_same_output(
    ferry: Ferry, project: Path, tmp_path: Path
) -> None:
    inputs = project / "inputs"
    linked = _invoke(ferry, inputs)
    uri = ferry.json("job", "show", "-n", linked)["input"]["path"]
    assert f"/paths/{INPUT_FOLDER}/" in uri
    staged = ferry.workspace / "blobstore" / uri.split("/paths/", 1)[1]
    assert (staged / "item-000.txt").stat().st_ino == (inputs / "item-000.txt").stat().st_ino
    by_links = _scores(ferry, linked, tmp_path / "a")
    assert len(by_links) == 6

    # As to a remote server: the content is staged already, so the same URI and output.
    archive = {"FERRY_INPUT_STAGING": "archive"}
    uploaded = _invoke(ferry, inputs, env=archive)
    assert ferry.json("job", "show", "-n", uploaded)["input"]["path"] == uri
    assert _scores(ferry, uploaded, tmp_path / "b") == by_links
    # New content goes up as one archive: its own files, the same rows.
    fresh = make_inputs(tmp_path / "copy" / "inputs", 6)
    (fresh / "extra.txt").write_text("extra")
    other = _invoke(ferry, fresh, env=archive)
    other_uri = ferry.json("job", "show", "-n", other)["input"]["path"]
    assert other_uri != uri
    copied = ferry.workspace / "blobstore" / other_uri.split("/paths/", 1)[1]
    assert (copied / "item-000.txt").stat().st_ino != (fresh / "item-000.txt").stat().st_ino
    assert _scores(ferry, other, tmp_path / "c") == sorted([*by_links, "extra.txt,extra"])


def test_refused_invoke_leaves_no_data_version(ferry: Ferry, project: Path) -> None:
    before = ferry.json("data", "list")
    result = ferry(
        "batch-endpoint", "invoke", "-n", ENDPOINT, "--input", project / "inputs",
        "--set", "arguments=--first_task_creation_timeout soon", expect=1,
    )  # fmt: skip
    # Refused by the server, after the folder was staged.
    assert "first_task_creation_timeout" in result.stderr
    assert ferry.json("data", "list") == before


def test_symlink_out_of_the_folder_is_refused(ferry: Ferry, project: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    inputs = make_inputs(tmp_path / "inputs", 2)
    (inputs / "evil.txt").symlink_to(secret)
    result = ferry("batch-endpoint", "invoke", "-n", ENDPOINT, "--input", inputs, expect=1)
    line = result.stderr.strip()
    assert line.startswith("ERROR: "), line
    assert f"the symlink '{inputs / 'evil.txt'}' points outside the folder" in line
