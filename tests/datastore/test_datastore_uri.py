"""azureml:// datastore URIs and datastore-relative paths."""

from __future__ import annotations

import pytest

from ferry.datastore import DatastoreUri, format_uri, normalize_path, parse_uri
from ferry.errors import InvalidInputError, UnsafePathError


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "azureml://datastores/workspaceblobstore/paths/data/x.csv",
            ("workspaceblobstore", "data/x.csv"),
        ),
        ("azureml://datastores/ds/paths/folder/", ("ds", "folder")),
        ("azureml://datastores/ds/paths/", ("ds", "")),
        ("azureml://datastores/ds/paths", ("ds", "")),
        ("azureml://datastores/ds/paths/a//./b/../c", ("ds", "a/c")),
        (
            "azureml://subscriptions/0000-11/resourcegroups/rg/workspaces/ws/datastores/ds/paths/a/b",
            ("ds", "a/b"),
        ),
        (
            "azureml://subscriptions/s/resourceGroups/rg/workspaces/ws/datastores/ds/paths/p",
            ("ds", "p"),
        ),
        ("AzureML://Datastores/ds/Paths/p", ("ds", "p")),
    ],
)
def test_parse(uri: str, expected: tuple[str, str]) -> None:
    parsed = parse_uri(uri)
    assert parsed == expected
    assert isinstance(parsed, DatastoreUri)
    assert parsed.datastore == expected[0]


@pytest.mark.parametrize(
    "uri",
    [
        "s3://bucket/key",
        "azureml://datastores/ds",
        "azureml://datastores//paths/x",
        "azureml://datastore/ds/paths/x",
        "azureml://subscriptions/s/workspaces/ws/datastores/ds/paths/x",
        "azureml:model:1",
    ],
)
def test_bad_uris_show_the_expected_form(uri: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        parse_uri(uri)
    assert f"'{uri}' is not" in err.value.message
    assert "expected azureml://datastores/<name>/paths/<path>" in err.value.message
    assert not isinstance(err.value, UnsafePathError)


@pytest.mark.parametrize(
    "uri",
    [
        "azureml://datastores/ds/paths/../x",
        "azureml://datastores/ds/paths/a/../../x",
        "azureml://datastores/ds/paths/a/..\\..\\x",
    ],
)
def test_escaping_paths_are_unsafe(uri: str) -> None:
    with pytest.raises(UnsafePathError) as err:
        parse_uri(uri)
    assert err.value.message.startswith(f"the path '{uri}' ")


def test_format_round_trip() -> None:
    uri = format_uri("ds", "/models/sha256_ab/")
    assert uri == "azureml://datastores/ds/paths/models/sha256_ab"
    assert parse_uri(uri) == ("ds", "models/sha256_ab")
    with pytest.raises(InvalidInputError, match="'a/b' is not a datastore name"):
        format_uri("a/b", "x")
    with pytest.raises(UnsafePathError, match="climbs out"):
        format_uri("ds", "../x")


def test_normalize_path_keeps_backslashes_in_names() -> None:
    assert normalize_path("a\\b/c") == "a\\b/c"
    assert normalize_path("./a/./b/") == "a/b"
