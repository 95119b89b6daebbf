"""Storage URLs as other tools write them (``s3://``, ``az://``, ``abfss://``, ``wasbs://``,
``https://<account>.blob.core.windows.net``): where they point, to find the datastore that
holds the place (and its credentials) among the registered ones.

Azure ML takes such URLs as job inputs and reads them with the workspace's identity; Ferry reads
them with the credentials of the registered datastore over that bucket or container.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

__all__ = ["CloudLocation", "is_cloud_url", "parse_cloud_url"]

_S3 = ("s3://", "s3a://")
_AZURE = ("az://", "abfs://", "abfss://", "wasb://", "wasbs://")
_BLOB_HOST = re.compile(r"^(?P<account>[a-z0-9]+)\.(blob|dfs)\.core\.windows\.net$", re.IGNORECASE)


class CloudLocation(NamedTuple):
    """``kind`` (``s3`` or ``azure_blob``), the bucket or container, the storage account when the
    URL names one, and the path inside (no leading ``/``)."""

    kind: str
    bucket: str
    account: str | None
    path: str


def is_cloud_url(url: str) -> bool:
    """Whether ``url`` is an S3 or Azure storage URL (not ``azureml://``)."""
    lowered = url.lower()
    if lowered.startswith(_S3 + _AZURE):
        return True
    return lowered.startswith("https://") and bool(_BLOB_HOST.match(urlsplit(url).hostname or ""))


def parse_cloud_url(url: str) -> CloudLocation:
    """Where ``url`` points.

    Raises:
        ValueError: not a storage URL this module knows, or one without a bucket or container.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    path = unquote(parts.path).lstrip("/")
    if f"{scheme}://" in _S3:
        bucket, account = parts.netloc, None
    elif f"{scheme}://" in _AZURE:
        # abfss://container@account.dfs.core.windows.net/path, or az://container/path (adlfs)
        container, _, host = parts.netloc.partition("@")
        host_match = _BLOB_HOST.match(host) if host else None
        bucket, account = container, host_match["account"] if host_match else None
    elif scheme == "https" and (host_match := _BLOB_HOST.match(parts.hostname or "")):
        bucket, _, path = path.partition("/")
        account = host_match["account"]
    else:
        raise ValueError(f"{url!r} is not an s3://, az://, abfss://, wasbs:// or blob https URL")
    if not bucket:
        raise ValueError(f"{url!r} names no bucket or container")
    kind = "s3" if f"{scheme}://" in _S3 else "azure_blob"
    return CloudLocation(kind, bucket, account.lower() if account else None, path.rstrip("/"))
