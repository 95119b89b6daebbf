"""Storage URLs as other tools write them, to the bucket or container and path they name."""

from __future__ import annotations

import pytest

from ferry.datastore.cloud_url import CloudLocation, is_cloud_url, parse_cloud_url


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("s3://bucket/a/b.png", CloudLocation("s3", "bucket", None, "a/b.png")),
        ("s3a://bucket/folder/", CloudLocation("s3", "bucket", None, "folder")),
        ("az://box/x/y", CloudLocation("azure_blob", "box", None, "x/y")),
        (
            "abfss://box@Acct.dfs.core.windows.net/x",
            CloudLocation("azure_blob", "box", "acct", "x"),
        ),
        (
            "wasbs://box@acct.blob.core.windows.net/x%20y/z",
            CloudLocation("azure_blob", "box", "acct", "x y/z"),
        ),
        (
            "https://acct.blob.core.windows.net/box/data/f.csv",
            CloudLocation("azure_blob", "box", "acct", "data/f.csv"),
        ),
    ],
)
def test_storage_urls_name_their_place(url: str, where: CloudLocation) -> None:
    assert is_cloud_url(url)
    assert parse_cloud_url(url) == where


@pytest.mark.parametrize(
    "url",
    ["azureml://datastores/x/paths/y", "https://example.com/data.csv", "/local/path", "gs://b/k"],
)
def test_other_urls_are_not_storage_urls(url: str) -> None:
    assert not is_cloud_url(url)
    with pytest.raises(ValueError, match="is not an s3://, az://, abfss://, wasbs:// or blob"):
        parse_cloud_url(url)


def test_a_url_without_a_bucket_is_refused() -> None:
    with pytest.raises(ValueError, match="names no bucket or container"):
        parse_cloud_url("s3:///key")
