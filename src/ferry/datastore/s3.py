"""S3 (and S3-compatible: MinIO, moto, Ceph) datastores through s3fs.

The only module that imports s3fs.
"""

from __future__ import annotations

from ferry.datastore.core import Datastore
from ferry.datastore.errors import ErrorContext
from ferry.datastore.factory import check_credential_names, missing_package
from ferry.specs.workspace import DatastoreSpec

__all__ = ["open_s3"]

CREDENTIAL_NAMES = {"access_key_id", "secret_access_key", "session_token"}


def open_s3(spec: DatastoreSpec, credentials: dict[str, str]) -> Datastore:
    """A datastore in ``s3://<bucket>/<prefix>``.

    Without ``access_key_id``, botocore's usual chain applies (environment, profile, instance role).
    """
    try:
        import s3fs
    except ImportError as exc:
        raise missing_package(spec, "s3fs", "s3") from exc
    check_credential_names(spec, credentials, CREDENTIAL_NAMES)
    client_kwargs = {"region_name": spec.region} if spec.region else {}
    fs = s3fs.S3FileSystem(
        key=credentials.get("access_key_id"),
        secret=credentials.get("secret_access_key"),
        token=credentials.get("session_token"),
        endpoint_url=spec.endpoint_url,
        client_kwargs=client_kwargs,
        # Fresh listings every time: other processes write to the same bucket.
        skip_instance_cache=True,
        use_listings_cache=False,
    )
    root = "/".join(p for p in (spec.bucket, spec.prefix.strip("/")) if p)
    errors = ErrorContext(
        datastore=spec.name,
        container=f"bucket '{spec.bucket}'",
        credential_fields="access_key_id and secret_access_key",
        secrets=tuple(credentials.values()),
    )
    return Datastore(spec.name, fs, root, errors=errors)
