"""Fail early, clearly: a deployment whose script cannot work and an invoke whose input does not
resolve are refused by the real ``ferry`` command (exit 1, one ERROR line naming the file, line
or reference and the fix), and no deployment or job is left behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.batch_setup import make_inputs, write_project
from tests.cli.conftest import Ferry

ENDPOINT = "cli-early-ep"

#: Internal names pydantic or Ferry's classes would show; no message may contain one.
INTERNAL = re.compile(r"function-after|Spec\b|Spec'|\bstr\.|instance of|ResolutionPolicy\(")


def _error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), stderr
    assert not INTERNAL.search(lines[0]), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def project(ferry: Ferry, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("early")
    endpoint_yml, deployment_yml = write_project(folder, ENDPOINT, "echo")
    ferry("batch-endpoint", "create", "-f", endpoint_yml, "-o", "none")
    ferry("batch-deployment", "create", "-f", deployment_yml, "-o", "none")
    make_inputs(folder / "inputs", 2)
    ferry("data", "create", "-n", "early-data", "-p", folder / "inputs", "-o", "none")
    return folder


@pytest.mark.parametrize(
    ("script", "fragments"),
    [
        (
            "def init():\n    pass\n\n\ndef run(mini_batch)\n    return mini_batch\n",
            ["broken.py, line 5:", "def run(mini_batch)", "python -m py_compile broken.py"],
        ),
        (
            "def init():\n    pass\n\n\ndef score(mini_batch):\n    return mini_batch\n",
            ["broken.py defines no run() function", "Add `def run(mini_batch):` to broken.py"],
        ),
    ],
)
def test_batch_create_checks_the_script(
    ferry: Ferry, project: Path, script: str, fragments: list[str]
) -> None:
    (project / "code" / "broken.py").write_text(script, encoding="utf-8")
    result = ferry(
        "batch-deployment",
        "create",
        "-f",
        project / "deployment.yml",
        "-n",
        "broken",
        "--set",
        "code_configuration.scoring_script=broken.py",
        expect=1,
    )
    line = _error(result.stderr)
    for fragment in fragments:
        assert fragment in line
    missing = ferry("batch-deployment", "show", "-n", "broken", "-e", ENDPOINT, expect=1)
    assert "does not exist" in missing.stderr


def test_batch_create_names_a_missing_script(ferry: Ferry, project: Path) -> None:
    result = ferry(
        "batch-deployment",
        "create",
        "-f",
        project / "deployment.yml",
        "-n",
        "nofile",
        "--set",
        "code_configuration.scoring_script=missing.py",
        expect=1,
    )
    line = _error(result.stderr)
    assert "scoring_script 'missing.py' is not in the code folder (it holds: " in line
    assert "batch_driver.py" in line and "fix code_configuration.scoring_script" in line


@pytest.mark.parametrize(
    ("setting", "field"),
    [
        ("code_configuration.code=nope", "code_configuration.code"),
        ("model.path=nope", "model.path"),
    ],
)
def test_a_missing_local_folder_is_named_as_the_deployment_field(
    ferry: Ferry, project: Path, setting: str, field: str
) -> None:
    result = ferry(
        "batch-deployment", "create", "-f", project / "deployment.yml", "--set", setting, expect=1
    )
    line = _error(result.stderr)
    assert f"{field} '{project / 'nope'}' does not exist; fix {field} in the deployment" in line
    assert "--path" not in line


def test_online_create_needs_init(ferry: Ferry, tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "score.py").write_text("def run(raw_data):\n    return raw_data\n")
    (tmp_path / "endpoint.yml").write_text("name: cli-early-online\nauth_mode: key\n")
    (tmp_path / "blue.yml").write_text(
        "name: blue\nendpoint_name: cli-early-online\nenvironment: ferry:server-python\n"
        "code_configuration:\n  code: code\n  scoring_script: score.py\n"
    )
    ferry("online-endpoint", "create", "-f", tmp_path / "endpoint.yml", "-o", "none")
    line = _error(
        ferry("online-deployment", "create", "-f", tmp_path / "blue.yml", expect=1).stderr
    )
    assert "score.py defines no init() function at module level" in line
    assert "Add `def init():` to score.py" in line


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("azureml:ghost-data@latest", "input 'azureml:ghost-data@latest' does not resolve"),
        ("azureml:early-data:99", "input 'azureml:early-data:99' does not resolve"),
        ("azureml://datastores/ghoststore/paths/x", "names datastore 'ghoststore'"),
        (
            "azureml://datastores/workspaceblobstore/paths/no/such/folder",
            "datastore 'workspaceblobstore' has no 'no/such/folder'",
        ),
    ],
)
def test_invoke_resolves_the_input_before_a_job_exists(
    ferry: Ferry, project: Path, source: str, fragment: str
) -> None:
    before = ferry.json("job", "list", "--query", "[].name")
    line = _error(
        ferry("batch-endpoint", "invoke", "--name", ENDPOINT, "--input", source, expect=1).stderr
    )
    assert fragment in line
    assert ferry.json("job", "list", "--query", "[].name") == before


def test_a_good_reference_still_runs(ferry: Ferry, project: Path) -> None:
    name = ferry(
        "batch-endpoint",
        "invoke",
        "--name",
        ENDPOINT,
        "--input",
        "azureml:early-data@latest",
        "--query",
        "name",
        "-o",
        "tsv",
    ).stdout.strip()
    ferry("job", "stream", "-n", name, "-o", "none")


@pytest.mark.parametrize(
    ("yaml_text", "fragment"),
    [
        ("environment:\n  conda_fil: env.yml\n", "unknown field 'environment.conda_fil'"),
        ("environment: {}\n", "field 'environment': set one of 'image', 'conda_file' or 'build'"),
        ("model:\n  pth: model\n", "missing required field 'model.path'"),
        ("model: 5\n", "field 'model': expected a reference string or a mapping"),
        (
            "code_configuration: batch_driver.py\n",
            "field 'code_configuration': Input should be a mapping (key: value)",
        ),
    ],
)
def test_malformed_yaml_is_described_in_the_users_words(
    ferry: Ferry, project: Path, yaml_text: str, fragment: str
) -> None:
    file = project / "malformed.yml"
    file.write_text(f"name: bad\nendpoint_name: {ENDPOINT}\n{yaml_text}", encoding="utf-8")
    line = _error(ferry("batch-deployment", "create", "-f", file, expect=1).stderr)
    assert f"invalid batch deployment spec in {file}: " in line
    assert fragment in line


def test_inline_model_and_environment_work_in_batch_yaml(ferry: Ferry, project: Path) -> None:
    (project / "model").mkdir(exist_ok=True)
    (project / "model" / "weights.txt").write_text("1", encoding="utf-8")
    file = project / "inline.yml"
    text = (project / "deployment.yml").read_text(encoding="utf-8")
    (project / "conda.yaml").write_text(
        "name: inline\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - numpy\n",
        encoding="utf-8",
    )
    inline_environment = (
        "environment:\n  conda_file: conda.yaml\n"
        "  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest\n"
    )
    file.write_text(
        text.replace("name: echo", "name: inline")
        .replace("type: model\n", "type: model\nmodel:\n  path: model\n")
        .replace("environment: ferry:server-python\n", inline_environment),
        encoding="utf-8",
    )
    shown = ferry.json("batch-deployment", "create", "-f", file)
    assert re.fullmatch(rf"azureml:{ENDPOINT}-inline-model:\d+", shown["model"]), shown["model"]
    assert re.fullmatch(rf"azureml:{ENDPOINT}-inline-env:\w+", shown["environment"]), shown
