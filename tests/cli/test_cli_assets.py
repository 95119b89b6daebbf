"""``ferry model|data|environment|code`` against a real server."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Ferry

HEART = Path("batch") / "deploy-models" / "heart-classifier-mlflow"


def test_model_create_prints_versions_one_then_two(ferry: Ferry, examples: Path) -> None:
    folder = examples / "online" / "model-1" / "model"
    create = ("model", "create", "--name", "m", "--path", folder, "--type", "custom_model")
    assert ferry(*create, "--query", "version", "-o", "tsv").stdout == "1\n"
    assert ferry(*create, "--query", "version", "-o", "tsv").stdout == "2\n"

    shown = ferry("model", "show", "--name", "m", "--version", "2", "-o", "json")
    assert shown.stdout.startswith('{\n  "')  # az's 2-space indent
    model = ferry.json("model", "show", "--name", "m", "--version", "2")
    assert (model["name"], model["version"], model["id"]) == ("m", "2", "azureml:m:2")
    assert model["type"] == "custom_model"
    assert model["path"].startswith("azureml://datastores/workspaceblobstore/")
    latest = ferry.json("model", "show", "--name", "m", "--label", "latest")
    assert latest["version"] == "2"


def test_model_download_puts_files_under_name(ferry: Ferry, examples: Path, tmp_path: Path) -> None:
    folder = examples / "online" / "model-1" / "model"
    ferry("model", "create", "--name", "dl", "--path", folder, "-o", "none")
    result = ferry.json(
        "model",
        "download",
        "--name",
        "dl",
        "--version",
        "1",
        "--download-path",
        "out/",
        cwd=tmp_path,
    )
    pkl = tmp_path / "out" / "dl" / "model" / "sklearn_regression_model.pkl"
    assert pkl.read_bytes() == (folder / "sklearn_regression_model.pkl").read_bytes()
    assert result["version"] == "1"
    assert Path(result["download_path"]).resolve().is_relative_to((tmp_path / "out").resolve())


def test_data_create_from_azure_yaml_resolves_paths_against_the_file(
    ferry: Ferry, examples: Path, tmp_path: Path
) -> None:
    spec = examples / HEART / "heart-dataset-unlabeled.yml"
    # Run from elsewhere: `path: data` in the file must still mean the folder beside the file.
    data = ferry.json("data", "create", "-f", spec, cwd=tmp_path)
    assert data["name"] == "heart-dataset-unlabeled"
    assert data["type"] == "uri_folder"
    assert data["description"] == "An unlabeled dataset for heart classification."
    ferry("data", "download", "-n", "heart-dataset-unlabeled", "-p", tmp_path / "d", "-o", "none")
    got = sorted(p.name for p in (tmp_path / "d").rglob("*.csv"))
    assert got == sorted(p.name for p in (examples / HEART / "data").glob("*.csv"))


def test_flags_and_set_override_the_yaml(ferry: Ferry, examples: Path) -> None:
    spec = examples / HEART / "heart-dataset-unlabeled.yml"
    data = ferry.json(
        "data",
        "create",
        "-f",
        spec,
        "--name",
        "heart-copy",
        "--version",
        "7",
        "--tags",
        "team=cardio",
        "stage=dev",
        "--set",
        "description=overridden",
    )
    assert (data["name"], data["version"]) == ("heart-copy", "7")
    assert data["description"] == "overridden"
    assert data["tags"] == {"team": "cardio", "stage": "dev"}


def test_mlflow_model_flavors_are_read_from_mlmodel(ferry: Ferry, examples: Path) -> None:
    folder = examples / HEART / "deployment-simple" / "model"
    flavors = ferry.json(
        "model",
        "create",
        "--name",
        "heart-classifier",
        "--path",
        folder,
        "--type",
        "mlflow_model",
        "--query",
        "flavors",
    )
    assert set(flavors) >= {"python_function", "sklearn"}
    loader = ferry(
        "model",
        "show",
        "-n",
        "heart-classifier",
        "--query",
        "flavors.python_function.loader_module",
        "-o",
        "tsv",
    )
    assert loader.stdout == "mlflow.sklearn\n"


def test_update_archive_and_restore(ferry: Ferry, examples: Path) -> None:
    folder = examples / "online" / "model-1" / "model"
    ferry("model", "create", "-n", "life", "-p", folder, "--tags", "a=1", "b=2", "-o", "none")
    ferry("model", "create", "-n", "life", "-p", folder, "-o", "none")
    updated = ferry.json(
        "model",
        "update",
        "-n",
        "life",
        "-v",
        "1",
        "--set",
        "description=tuned",
        "tags.c=1.10",
        "--remove",
        "tags.a",
    )
    assert updated["description"] == "tuned"
    assert updated["tags"] == {"b": "2", "c": "1.10"}  # verbatim, not YAML-parsed to 1.1

    assert ferry.json("model", "archive", "-n", "life", "-v", "2", "--query", "archived") is True
    assert ferry.json("model", "list", "-n", "life", "--query", "[].version") == ["1"]
    every = ferry.json("model", "list", "-n", "life", "--include-archived", "--query", "[].version")
    assert sorted(every) == ["1", "2"]
    only = ferry.json("model", "list", "-n", "life", "--archived-only", "--query", "[].version")
    assert only == ["2"]
    restored = ferry.json("model", "restore", "-n", "life", "--query", "[].archived")
    assert restored and not any(restored)
    assert len(ferry.json("model", "list", "-n", "life", "--max-results", "1")) == 1


def test_environment_and_code(ferry: Ferry, examples: Path) -> None:
    conda = examples / "online" / "model-1" / "environment" / "conda.yaml"
    env = ferry.json(
        "environment",
        "create",
        "--name",
        "sk-env",
        "--conda-file",
        conda,
        "--image",
        "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest",
    )
    assert env["version"] == "1"
    assert "joblib" in env["pip_requirements"]
    names = ferry.json("environment", "list", "--query", "[].name")
    assert "sk-env" in names

    code = ferry.json("code", "create", "--name", "src", "--path", examples / "online" / "model-1")
    assert code["id"] == "azureml:src:1"
    assert ferry.json("code", "show", "--name", "src", "--query", "name") == "src"
