"""Datastores of every type over real services, for one shared contract suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.datastore import Datastore, open_datastore
from ferry.specs.workspace import DatastoreSpec
from tests.fixtures_services import S3_CREDENTIALS

KINDS = ["local", "s3", "azure_blob"]


def open_kind(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Datastore:
    """A fresh, empty datastore of ``kind``."""
    if kind == "s3":
        return open_datastore(request.getfixturevalue("s3_spec"), S3_CREDENTIALS)
    if kind == "azure_blob":
        spec = request.getfixturevalue("azure_spec")
        return open_datastore(spec, {"connection_string": request.getfixturevalue("azurite")})
    spec = DatastoreSpec(name="localstore", type="local", root=str(tmp_path / "store-root"))
    return open_datastore(spec, {})


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Datastore:
    """An empty datastore of each type in turn."""
    return open_kind(request.param, request, tmp_path)


@pytest.fixture(params=["s3", "azure_blob"])
def object_store(request: pytest.FixtureRequest, tmp_path: Path) -> Datastore:
    """An empty object-store datastore of each type in turn."""
    return open_kind(request.param, request, tmp_path)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A diffusers-like save_pretrained folder with nested subfolders."""
    root = tmp_path / "src" / "tiny-diffusion"
    files = {
        "model_index.json": b'{"_class_name": "StableDiffusionPipeline"}',
        "unet/config.json": b'{"sample_size": 8}',
        "unet/diffusion_pytorch_model.safetensors": bytes(range(256)) * 64,
        "vae/config.json": b"{}",
        "text_encoder/sub/deeper/weights.bin": b"\x00\x01" * 1000,
        "scheduler/scheduler_config.json": b"{}",
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root
