"""Datastores through the SDK and server: S3 on a real moto server, Azure Blob on Azurite."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry import AssetTypes, Data, MLClient, Model
from ferry.client import Datastore
from ferry.errors import AuthError, ConflictError, NotFoundError
from ferry.specs.workspace import DatastoreSpec
from tests.fixtures_services import S3_CREDENTIALS


def test_default_datastore_exists(ml_client: MLClient) -> None:
    default = ml_client.datastores.get_default()
    assert default.name == "workspaceblobstore" and default.type == "local"
    with pytest.raises(ConflictError, match="built in"):
        ml_client.datastores.delete("workspaceblobstore")


def test_s3_datastore_reference_and_download(
    ml_client: MLClient, s3_spec: DatastoreSpec, tmp_path: Path
) -> None:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=s3_spec.endpoint_url,
        aws_access_key_id=S3_CREDENTIALS["access_key_id"],
        aws_secret_access_key=S3_CREDENTIALS["secret_access_key"],
        region_name="us-east-1",
    )
    s3.put_object(Bucket=s3_spec.bucket, Key="models/m1/weights.bin", Body=b"w" * 100)
    spec = s3_spec.model_dump(exclude={"schema_uri", "credentials"}) | {
        "name": "s3data",
        "prefix": "",
    }
    created = ml_client.datastores.create_or_update(
        Datastore(**spec, credentials=dict(S3_CREDENTIALS))
    )
    assert created.type == "s3"
    shown = ml_client.datastores.get("s3data")
    assert set(shown.credentials) == {"access_key_id", "secret_access_key"}
    assert "testing-secret" not in shown.model_dump_json()

    uri = "azureml://datastores/s3data/paths/models/m1"
    model = ml_client.models.create_or_update(Model(name="on-s3", path=uri))
    assert model.path == uri and model.content_hash is None
    out = ml_client.models.download("on-s3", version="1", download_path=str(tmp_path))
    assert (out / "weights.bin").read_bytes() == b"w" * 100

    with pytest.raises(NotFoundError, match="models/missing"):
        ml_client.data.create_or_update(
            Data(
                name="gone",
                path="azureml://datastores/s3data/paths/models/missing",
                type=AssetTypes.URI_FOLDER,
            )
        )
    with pytest.raises(NotFoundError, match="nosuchstore"):
        ml_client.data.create_or_update(
            Data(name="gone", path="azureml://datastores/nosuchstore/paths/x")
        )


def test_azure_blob_datastore_wrong_key_is_refused(
    ml_client: MLClient, azure_spec: DatastoreSpec, azurite: str
) -> None:
    spec = azure_spec.model_dump(exclude={"schema_uri", "credentials"}) | {"name": "blobdata"}
    parts = dict(p.split("=", 1) for p in azurite.split(";") if p)
    parts["AccountKey"] = "d3Jvbmcta2V5"
    wrong = ";".join(f"{k}={v}" for k, v in parts.items())
    with pytest.raises(AuthError) as info:
        ml_client.datastores.create_or_update(
            Datastore(**spec, credentials={"connection_string": wrong})
        )
    assert "d3Jvbmcta2V5" not in info.value.message
    with pytest.raises(NotFoundError):
        ml_client.datastores.get("blobdata")


def test_azure_blob_datastore_works(
    ml_client: MLClient, azure_spec: DatastoreSpec, azurite: str, tmp_path: Path
) -> None:
    spec = azure_spec.model_dump(exclude={"schema_uri", "credentials"}) | {"name": "blobok"}
    ml_client.datastores.create_or_update(
        Datastore(**spec, credentials={"connection_string": azurite})
    )
    listed = [d.name for d in ml_client.datastores.list()]
    assert "blobok" in listed
    ml_client.datastores.delete("blobok")
