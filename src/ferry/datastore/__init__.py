"""Artifact bytes in datastores: a local folder, S3 or Azure Blob, all through fsspec.

* :func:`open_datastore` builds a :class:`Datastore` from a ``DatastoreSpec`` and its
  credentials. The S3 and Azure adapters (s3fs, adlfs) are imported only when needed.
* :class:`Datastore` lists, reads, downloads, deletes and atomically commits files and folders.
* :func:`parse_uri` / :func:`format_uri` handle ``azureml://datastores/<name>/paths/<path>``.

Storage failures surface as :class:`ferry.errors.FerryError` subclasses that name the datastore
and the path, never a credential.
"""

from __future__ import annotations

from ferry.datastore.core import Datastore
from ferry.datastore.errors import ErrorContext
from ferry.datastore.factory import open_datastore
from ferry.datastore.uri import DatastoreUri, format_uri, normalize_path, parse_uri

__all__ = [
    "Datastore",
    "DatastoreUri",
    "ErrorContext",
    "format_uri",
    "normalize_path",
    "open_datastore",
    "parse_uri",
]
