"""The SDK against a real auto-started server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import filecmp
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ferry import AssetTypes, BuildContext, Data, Environment, MLClient, Model
from ferry.client import Code, Compute
from ferry.errors import ConflictError, InvalidInputError, NotFoundError, SpecError
from ferry.specs.assets import DataSpec
from ferry.specs.loader import load_spec
from tests.conftest import STORES

ML_CLIENT_STORES = STORES


def test_model_folder_versions_and_download(
    ml_client: MLClient, examples: Path, tmp_path: Path
) -> None:
    folder = examples / "online" / "model-1" / "model"
    first = ml_client.models.create_or_update(
        Model(name="sk-reg", path=str(folder), type=AssetTypes.CUSTOM_MODEL)
    )
    second = ml_client.models.create_or_update(Model(name="sk-reg", path=str(folder)))
    assert (first.version, second.version) == ("1", "2")
    assert first.content_hash == second.content_hash
    assert first.path is not None and first.path.startswith(
        "azureml://datastores/workspaceblobstore/"
    )
    assert first.path.endswith("/model")
    latest = ml_client.models.get("sk-reg", label="latest")
    assert latest.version == "2"
    out = ml_client.models.download("sk-reg", version="1", download_path=str(tmp_path))
    assert out == tmp_path / "sk-reg" / "model"
    assert not filecmp.dircmp(folder, out).diff_files
    assert (out / "sklearn_regression_model.pkl").read_bytes() == (
        folder / "sklearn_regression_model.pkl"
    ).read_bytes()


def test_versions_are_immutable(ml_client: MLClient, tmp_path: Path) -> None:
    a = tmp_path / "a.bin"
    a.write_bytes(b"one")
    ml_client.models.create_or_update(Model(name="immut", version="1", path=str(a)))
    # Same content again: idempotent.
    again = ml_client.models.create_or_update(Model(name="immut", version="1", path=str(a)))
    assert again.version == "1"
    a.write_bytes(b"two")
    with pytest.raises(ConflictError, match="already exists with different content"):
        ml_client.models.create_or_update(Model(name="immut", version="1", path=str(a)))


def test_concurrent_creates_get_distinct_versions(ml_client: MLClient, tmp_path: Path) -> None:
    f = tmp_path / "w.bin"
    f.write_bytes(b"weights")

    def create(_: int) -> str:
        version = ml_client.models.create_or_update(Model(name="race", path=str(f))).version
        assert version is not None
        return version

    with ThreadPoolExecutor(max_workers=6) as pool:
        versions = list(pool.map(create, range(12)))
    assert sorted(versions, key=int) == [str(i) for i in range(1, 13)]


def test_mlflow_model_shows_flavors_and_signature(ml_client: MLClient, examples: Path) -> None:
    folder = examples / "batch/deploy-models/heart-classifier-mlflow/deployment-simple/model"
    model = ml_client.models.create_or_update(
        Model(name="heart-classifier", path=str(folder), type=AssetTypes.MLFLOW_MODEL)
    )
    assert model.flavors is not None and "python_function" in model.flavors
    assert model.signature is not None and "inputs" in model.signature
    assert any(col.get("name") == "age" for col in model.signature["inputs"])


def test_mlflow_type_without_mlmodel_is_refused(ml_client: MLClient, examples: Path) -> None:
    folder = examples / "online" / "model-1" / "model"
    with pytest.raises(SpecError, match="needs an MLmodel file"):
        ml_client.models.create_or_update(
            Model(name="not-mlflow", path=str(folder), type=AssetTypes.MLFLOW_MODEL)
        )


def test_data_yaml_with_relative_path(ml_client: MLClient, examples: Path) -> None:
    yml = examples / "batch/deploy-models/heart-classifier-mlflow/heart-dataset-unlabeled.yml"
    spec = load_spec(DataSpec, yml)
    data = ml_client.data.create_or_update(Data(**spec.model_dump(exclude={"schema_uri"})))
    assert data.name == "heart-dataset-unlabeled"
    assert data.type == "uri_folder"
    ref = ml_client.data.get(data.name, version=data.version)
    assert ref.path == data.path


def test_data_by_uri_is_referenced_not_copied(ml_client: MLClient, examples: Path) -> None:
    csv = examples / "batch/deploy-models/heart-classifier-mlflow/data/heart-unlabeled-0.csv"
    uploaded = ml_client.data.create_or_update(
        Data(name="one-csv", path=str(csv), type=AssetTypes.URI_FILE)
    )
    assert uploaded.path is not None
    ref = ml_client.data.create_or_update(
        Data(name="by-uri", path=uploaded.path, type=AssetTypes.URI_FILE)
    )
    assert ref.path == uploaded.path and ref.content_hash is None


def test_missing_path_is_named(ml_client: MLClient, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="nope-folder"):
        ml_client.models.create_or_update(Model(name="x", path=str(tmp_path / "nope-folder")))


def test_symlink_escaping_folder_is_refused(ml_client: MLClient, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "ok.txt").write_text("ok")
    (folder / "leak").symlink_to("/etc/passwd")
    with pytest.raises(InvalidInputError, match="leak"):
        ml_client.models.create_or_update(Model(name="leaky", path=str(folder)))


def test_environment_from_conda_file(ml_client: MLClient, examples: Path) -> None:
    conda = examples / "online" / "model-1" / "environment" / "conda.yaml"
    env = ml_client.environments.create_or_update(
        Environment(
            name="sk-env",
            conda_file=str(conda),
            image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest",
            description="model-1 scoring environment",
        )
    )
    assert env.version == "1"
    assert env.pip_requirements and "joblib" in env.pip_requirements
    same = ml_client.environments.create_or_update(
        Environment(
            name="sk-env",
            version="1",
            conda_file=str(conda),
            image=env.image,
            description="model-1 scoring environment",
        )
    )
    assert same.version == "1"


def test_environment_build_context(ml_client: MLClient, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM python:3.11-slim\n")
    env = ml_client.environments.create_or_update(
        Environment(name="docker-env", build=BuildContext(path=str(ctx)))
    )
    assert env.build is not None and env.build.path.startswith("azureml://")
    (ctx / "Dockerfile").unlink()
    with pytest.raises(SpecError, match="no Dockerfile"):
        ml_client.environments.create_or_update(
            Environment(name="docker-env2", build=BuildContext(path=str(ctx)))
        )


def test_environment_needs_a_source() -> None:
    with pytest.raises(SpecError, match="invalid Environment: set one of 'image', 'conda_file'"):
        Environment(name="empty")


def test_code_is_content_addressed(ml_client: MLClient, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "score.py").write_text("def init():\n    pass\n")
    a = ml_client.code.create_or_update(Code(path=str(src)))
    b = ml_client.code.create_or_update(Code(path=str(src)))
    assert (a.name, a.version) == (b.name, b.version)
    assert a.name.startswith("code-")


def test_archive_and_restore(ml_client: MLClient, tmp_path: Path) -> None:
    f = tmp_path / "x.bin"
    f.write_bytes(b"x")
    ml_client.models.create_or_update(Model(name="arch", path=str(f)))
    ml_client.models.archive("arch")
    assert [m.name for m in ml_client.models.list() if m.name == "arch"] == []
    assert [m.archived for m in ml_client.models.list("arch", include_archived=True)] == [True]
    ml_client.models.restore("arch")
    assert [m.version for m in ml_client.models.list("arch")] == ["1"]


def test_references_resolve(ml_client: MLClient, tmp_path: Path) -> None:
    f = tmp_path / "r.bin"
    f.write_bytes(b"r")
    ml_client.models.create_or_update(Model(name="refd", path=str(f)))
    assert ml_client.models.get("refd", version="1").id == "azureml:refd:1"


def test_secrets_never_echo_values(ml_client: MLClient) -> None:
    ml_client.secrets.set("API_KEY", "s3cr3t-value")
    listing = ml_client.secrets.list()
    assert [s["name"] for s in listing if s["name"] == "API_KEY"] == ["API_KEY"]
    assert "s3cr3t-value" not in repr(listing)
    ml_client.secrets.delete("API_KEY")
    with pytest.raises(NotFoundError):
        ml_client.secrets.delete("API_KEY")


def test_computes(ml_client: MLClient) -> None:
    names = [c.name for c in ml_client.compute.list()]
    assert "local" in names
    ray = ml_client.compute.begin_create_or_update(
        Compute(name="ray1", type="ray", address="ray://127.0.0.1:10001", max_instances=4)
    ).result()
    assert ray.max_instances == 4
    with pytest.raises(ConflictError, match="cannot be deleted"):
        ml_client.compute.delete("local")


def test_from_config(tmp_path: Path, ml_client: MLClient) -> None:
    config = tmp_path / ".azureml" / "config.json"
    config.parent.mkdir()
    config.write_text(
        json.dumps(
            {"subscription_id": "x", "workspace": str(ml_client.settings.resolved_workspace)}
        )
    )
    other = MLClient.from_config(path=tmp_path)
    try:
        assert other.server_url == ml_client.server_url
    finally:
        other.close()
