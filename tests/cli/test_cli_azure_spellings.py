"""The spellings Azure's scripts use, through the real ``ferry`` command and a real server:
long-option prefixes (argparse's, as in ``az``), ``compute create --type amlcompute``,
``job show --web``, ``job list --parent-job-name`` and ``batch-endpoint invoke --file``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.batch_setup import make_inputs, write_project
from tests.cli.conftest import Ferry

ENDPOINT = "cli-spell-ep"


@pytest.fixture(scope="module")
def project(ferry: Ferry, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("spellings")
    endpoint_yml, deployment_yml = write_project(folder, ENDPOINT, "echo")
    ferry(
        "compute",
        "create",
        "-n",
        "batch-cluster",
        "--type",
        "amlcompute",
        "--size",
        "STANDARD_DS3_v2",
        "--min-instances",
        "0",
        "--max-instances",
        "2",
        "-o",
        "none",
    )
    ferry("batch-endpoint", "create", "--file", endpoint_yml, "-o", "none")
    # --endpoint is --endpoint-name, as az (argparse) takes any unambiguous prefix.
    ferry(
        "batch-deployment",
        "create",
        "--file",
        deployment_yml,
        "--endpoint",
        ENDPOINT,
        "--set-default",
        "-o",
        "none",
    )
    make_inputs(folder / "inputs", 3)
    return folder


def test_amlcompute_is_registered_with_its_limits(ferry: Ferry, project: Path) -> None:
    got = ferry.json("compute", "show", "-n", "batch-cluster")
    assert (got["type"], got["min_instances"], got["max_instances"]) == ("local", 0, 2)
    assert got["size"] == "STANDARD_DS3_v2"


def test_amlcompute_yaml_as_azure_writes_it(ferry: Ferry, tmp_path: Path) -> None:
    compute_yml = tmp_path / "cluster.yml"
    compute_yml.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json\n"
        "name: lowpri-example\ntype: amlcompute\nsize: STANDARD_DS3_v2\nmin_instances: 0\n"
        "max_instances: 2\nidle_time_before_scale_down: 120\ntier: lowpriority\n"
        "location: westus\n",
        encoding="utf-8",
    )
    got = ferry.json("compute", "create", "--file", compute_yml)
    assert (got["type"], got["max_instances"], got["tier"]) == ("local", 2, "lowpriority")
    assert (got["idle_time_before_scale_down"], got["location"]) == (120, "westus")


def test_prefixes_resolve_and_ambiguous_ones_are_refused(ferry: Ferry, project: Path) -> None:
    shown = ferry.json("batch-deployment", "show", "--name", "echo", "--endpoint", ENDPOINT)
    assert shown["name"] == "echo"
    bad = ferry("batch-endpoint", "invoke", "--name", ENDPOINT, "--out", "x", expect=2)
    assert "ambiguous option --out: could be --output, --output-path" in bad.stderr
    unknown = ferry("batch-endpoint", "show", "--nome", ENDPOINT, expect=2)
    assert "No such option '--nome'. Did you mean '--name'?" in unknown.stderr


def test_invoke_with_deployment_prefix_then_web_and_parent(ferry: Ferry, project: Path) -> None:
    name = ferry(
        "batch-endpoint",
        "invoke",
        "--name",
        ENDPOINT,
        "--deployment",
        "echo",
        "--input",
        project / "inputs",
        "--query",
        "name",
        "-o",
        "tsv",
    ).stdout.strip()
    ferry("job", "stream", "-n", name, "-o", "none")
    web = ferry("job", "show", "-n", name, "--web", "--query", "status", "-o", "tsv")
    assert web.stdout.strip() == "Completed"
    assert f"job {name} in the studio" in web.stderr
    assert "/studio/login?code=" in web.stderr
    assert f"&next=/studio/jobs/{name}" in web.stderr
    children = ferry.json("job", "list", "--parent-job-name", name)
    assert [j["name"] for j in children] == [name]
    missing = ferry("job", "list", "--parent-job-name", "ghost-job", expect=1)
    assert "ghost-job" in missing.stderr


def test_invoke_file_takes_azure_inputs_and_outputs(
    ferry: Ferry, project: Path, tmp_path: Path
) -> None:
    inputs = project / "inputs.yml"  # its local path is relative to the file, as in Azure's
    inputs.write_text(
        "inputs:\n  heart_dataset:\n    type: uri_folder\n    path: inputs\n"
        "outputs:\n  score:\n    type: uri_file\n"
        "    path: azureml://datastores/workspaceblobstore/paths/spellings/scores.csv\n",
        encoding="utf-8",
    )
    name = ferry(
        "batch-endpoint",
        "invoke",
        "--name",
        ENDPOINT,
        "--file",
        inputs,
        "--query",
        "name",
        "-o",
        "tsv",
    ).stdout.strip()
    ferry("job", "stream", "-n", name, "-o", "none")
    job = ferry.json("job", "show", "-n", name)
    assert job["status"] == "Completed"
    ferry("job", "download", "-n", name, "-p", tmp_path / "out", "-o", "none")
    scores = tmp_path / "out" / "named-outputs" / "score" / "scores.csv"
    assert sorted(scores.read_text().split()) == [
        "item-000.txt,0",
        "item-001.txt,10",
        "item-002.txt,20",
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("inputs: {a: {path: x}, b: {path: y}}\n", "names 2 inputs (a, b)"),
        ("inputs: {a: {type: uri_flder, path: x}}\n", "inputs.a.type is 'uri_flder'"),
        ("inputs: {a: {path: x}}\noutputs: {scores: {path: y}}\n", "names output scores"),
        ("input: {a: {path: x}}\n", "has input; it holds only inputs: and outputs:"),
    ],
)
def test_bad_invoke_file_is_named(
    ferry: Ferry, project: Path, tmp_path: Path, text: str, fragment: str
) -> None:
    inputs = tmp_path / "inputs.yml"
    inputs.write_text(text, encoding="utf-8")
    bad = ferry("batch-endpoint", "invoke", "--name", ENDPOINT, "-f", inputs, expect=1)
    assert f"inputs file {inputs} {fragment}" in bad.stderr


def test_instance_count_over_max_instances_is_refused(ferry: Ferry, project: Path) -> None:
    before = ferry.json("job", "list", "--query", "[].name")
    bad = ferry(
        "batch-deployment",
        "create",
        "-f",
        project / "deployment.yml",
        "-n",
        "wide",
        "--set",
        "resources.instance_count=3",
        expect=1,
    )
    assert (
        "resources.instance_count is 3 but compute 'batch-cluster' allows at most 2 instances"
        in bad.stderr
    )
    assert "--max-instances 3" in bad.stderr
    gone = ferry("batch-deployment", "show", "-n", "wide", "-e", ENDPOINT, expect=1)
    assert "does not exist" in gone.stderr
    over = ferry(
        "batch-endpoint",
        "invoke",
        "--name",
        ENDPOINT,
        "--input",
        project / "inputs",
        "--instance-count",
        "3",
        expect=1,
    )
    assert "params_override.instance_count is 3 but compute 'batch-cluster' allows at most 2" in (
        over.stderr
    )
    assert ferry.json("job", "list", "--query", "[].name") == before
