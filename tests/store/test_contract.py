"""The store contract: one suite, run against every implementation (see conftest.py)."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timezone
from typing import Any

import pytest

from ferry.errors import ConflictError, InvalidInputError, NotFoundError
from ferry.specs.assets import AssetKind
from ferry.store import AssetRecord, Store, open_store

MODEL = AssetKind.MODEL
HASH_A = "sha256:" + "a" * 64
HASH_B = "sha256:" + "b" * 64


def _spec(**extra: Any) -> dict[str, Any]:
    return {"name": "m", "path": "azureml://datastores/workspaceblobstore/paths/m", **extra}


def _versions(records: list[Any]) -> list[str]:
    return [record.version for record in records]


# --- create ---------------------------------------------------------------------------------


def test_create_without_version_takes_the_next_integer(store: Store) -> None:
    results = [store.assets.create(MODEL, "m", None, _spec(), HASH_A) for _ in range(3)]
    assert [(record.version, created) for record, created in results] == [
        ("1", True),
        ("2", True),
        ("3", True),
    ]
    record = results[0][0]
    assert record.kind is MODEL
    assert record.name == "m"
    assert record.spec == _spec()
    assert record.content_hash == HASH_A
    assert record.archived is False
    assert record.created_at.tzinfo is timezone.utc
    assert record.updated_at == record.created_at


def test_explicit_versions_and_the_next_integer_after_them(store: Store) -> None:
    assert store.assets.create(MODEL, "m", "5", _spec(), None)[0].version == "5"
    assert store.assets.create(MODEL, "m", "1.0-beta", _spec(), None)[0].version == "1.0-beta"
    assert store.assets.create(MODEL, "m", "3", _spec(), None)[0].version == "3"
    # Non-integer versions are skipped; the highest integer wins, not the newest.
    assert store.assets.create(MODEL, "m", None, _spec(), None)[0].version == "6"


def test_kinds_and_names_are_versioned_separately(store: Store) -> None:
    store.assets.create(MODEL, "m", None, _spec(), None)
    store.assets.create(MODEL, "m", None, _spec(), None)
    assert store.assets.create(AssetKind.DATA, "m", None, {"path": "x"}, None)[0].version == "1"
    assert store.assets.create(MODEL, "other", None, _spec(), None)[0].version == "1"


def test_recreating_an_identical_version_returns_it_unchanged(store: Store) -> None:
    first, created = store.assets.create(MODEL, "m", "1", _spec(tags={"a": "b"}), HASH_A)
    assert created
    again, created = store.assets.create(MODEL, "m", "1", _spec(tags={"a": "b"}), HASH_A)
    assert not created
    assert again == first


def test_recreating_with_different_content_is_a_conflict(store: Store) -> None:
    store.assets.create(MODEL, "m", "1", _spec(), HASH_A)
    with pytest.raises(ConflictError) as caught:
        store.assets.create(MODEL, "m", "1", _spec(), HASH_B)
    assert caught.value.http_status == 409
    assert caught.value.message == (
        "model 'm' version 1 already exists with different content (sha256 aaaaaaaaaaaa…, "
        "yours bbbbbbbbbbbb…); versions are immutable: omit --version to create the next "
        "version, or choose a new one"
    )
    assert caught.value.details["existing_content_hash"] == HASH_A


def test_recreating_with_a_different_spec_is_a_conflict(store: Store) -> None:
    store.assets.create(MODEL, "m", "1", _spec(description="one"), HASH_A)
    with pytest.raises(ConflictError, match=r"different spec \(fields: description\)"):
        store.assets.create(MODEL, "m", "1", _spec(description="two"), HASH_A)
    assert store.assets.get(MODEL, "m", "1").spec["description"] == "one"


def test_spec_must_be_plain_json(store: Store) -> None:
    with pytest.raises(InvalidInputError, match="spec of model 'm' is not plain JSON"):
        store.assets.create(MODEL, "m", None, {"when": object()}, None)


def test_concurrent_creates_get_distinct_contiguous_versions(store: Store) -> None:
    threads, per_thread = 8, 5
    start = threading.Barrier(threads)
    versions: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def creator() -> None:
        try:
            start.wait()
            for _ in range(per_thread):
                record, created = store.assets.create(MODEL, "m", None, _spec(), HASH_A)
                assert created
                with lock:
                    versions.append(record.version)
        except BaseException as exc:  # reported below, with the versions so far
            errors.append(exc)

    workers = [threading.Thread(target=creator) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert sorted(versions, key=int) == [str(n) for n in range(1, threads * per_thread + 1)]


_CREATE_IN_A_PROCESS = """
import sys
from ferry.specs.assets import AssetKind
from ferry.store import open_store

store = open_store(sys.argv[1])
try:
    for _ in range(int(sys.argv[2])):
        print(store.assets.create(AssetKind.MODEL, "m", None, {}, None)[0].version, flush=True)
finally:
    store.close()
"""


def test_concurrent_creates_from_several_processes(store_url: str, store: Store) -> None:
    processes, per_process = 3, 10
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CREATE_IN_A_PROCESS, store_url, str(per_process)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    versions: list[str] = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        versions.extend(out.split())
    assert sorted(versions, key=int) == [str(n) for n in range(1, processes * per_process + 1)]
    assert store.assets.latest(MODEL, "m").version == str(processes * per_process)


def test_concurrent_creates_of_one_explicit_version_create_it_once(store: Store) -> None:
    threads = 6
    start = threading.Barrier(threads)
    results: list[tuple[AssetRecord, bool]] = []
    errors: list[BaseException] = []

    def creator() -> None:
        try:
            start.wait()
            results.append(store.assets.create(MODEL, "m", "7", _spec(), HASH_A))
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=creator) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert sorted(created for _, created in results) == [False] * (threads - 1) + [True]
    assert all(record == results[0][0] for record, _ in results)


# --- read -----------------------------------------------------------------------------------


def test_get_returns_the_version(store: Store) -> None:
    created, _ = store.assets.create(MODEL, "m", None, _spec(), HASH_A)
    store.assets.create(MODEL, "m", None, _spec(), HASH_B)
    assert store.assets.get(MODEL, "m", "1") == created


def test_get_of_a_missing_version_lists_the_versions_that_exist(store: Store) -> None:
    store.assets.create(MODEL, "m", None, _spec(), None)
    store.assets.create(MODEL, "m", None, _spec(), None)
    with pytest.raises(NotFoundError) as caught:
        store.assets.get(MODEL, "m", "3")
    assert caught.value.http_status == 404
    assert caught.value.message == "model 'm' has no version '3'; model 'm' has versions 1, 2"
    assert caught.value.details["versions"] == ["2", "1"]


def test_not_found_messages_summarise_many_versions(store: Store) -> None:
    for _ in range(12):
        store.assets.create(MODEL, "m", None, _spec(), None)
    with pytest.raises(NotFoundError) as caught:
        store.assets.get(MODEL, "m", "99")
    assert caught.value.message.endswith(
        "has versions 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 and 2 older (see `ferry model list --name m`)"
    )


def test_get_of_an_unknown_name_says_how_to_list_names(store: Store) -> None:
    with pytest.raises(NotFoundError) as caught:
        store.assets.get(AssetKind.ENVIRONMENT, "nope", "1")
    assert caught.value.message == (
        "no environment named 'nope'; list them with `ferry environment list`"
    )
    with pytest.raises(NotFoundError, match="no model named 'nope'"):
        store.assets.latest(MODEL, "nope")


def test_latest_is_the_newest_non_archived_version_by_creation(store: Store) -> None:
    store.assets.create(MODEL, "m", "10", _spec(), None)
    store.assets.create(MODEL, "m", "2", _spec(), None)  # created last, so newest
    assert store.assets.latest(MODEL, "m").version == "2"
    store.assets.set_archived(MODEL, "m", "2", True)
    assert store.assets.latest(MODEL, "m").version == "10"
    store.assets.set_archived(MODEL, "m", None, True)
    with pytest.raises(NotFoundError) as caught:
        store.assets.latest(MODEL, "m")
    assert caught.value.message == (
        "every version of model 'm' is archived; restore one with "
        "`ferry model restore --name m --version 2`, or ask for a version explicitly"
    )


# --- list and pages -------------------------------------------------------------------------


def test_list_versions_newest_first_without_archived(store: Store) -> None:
    for _ in range(4):
        store.assets.create(MODEL, "m", None, _spec(), None)
    store.assets.set_archived(MODEL, "m", "3", True)
    page = store.assets.list_versions(MODEL, "m")
    assert _versions(page.items) == ["4", "2", "1"]
    assert page.next_token is None
    everything = store.assets.list_versions(MODEL, "m", include_archived=True)
    assert _versions(everything.items) == ["4", "3", "2", "1"]
    assert store.assets.list_versions(MODEL, "unknown").items == []


def test_list_versions_pages(store: Store) -> None:
    for _ in range(5):
        store.assets.create(MODEL, "m", None, _spec(), None)
    seen: list[list[str]] = []
    token: str | None = None
    while True:
        page = store.assets.list_versions(MODEL, "m", limit=2, page_token=token)
        seen.append(_versions(page.items))
        token = page.next_token
        if token is None:
            break
    assert seen == [["5", "4"], ["3", "2"], ["1"]]


def test_list_without_a_name_gives_the_latest_of_each_name(store: Store) -> None:
    for name in ("charlie", "alpha", "bravo", "delta"):
        store.assets.create(MODEL, name, None, _spec(), None)
        store.assets.create(MODEL, name, None, _spec(), None)
    store.assets.create(AssetKind.DATA, "echo", None, {"path": "x"}, None)
    store.assets.set_archived(MODEL, "bravo", "2", True)
    store.assets.set_archived(MODEL, "delta", None, True)

    first = store.assets.list_versions(MODEL, limit=2)
    assert [(r.name, r.version) for r in first.items] == [("alpha", "2"), ("bravo", "1")]
    assert first.next_token is not None
    rest = store.assets.list_versions(MODEL, limit=2, page_token=first.next_token)
    assert [(r.name, r.version) for r in rest.items] == [("charlie", "2")]
    assert rest.next_token is None

    everything = store.assets.list_versions(MODEL, include_archived=True)
    assert [(r.name, r.version) for r in everything.items] == [
        ("alpha", "2"),
        ("bravo", "2"),
        ("charlie", "2"),
        ("delta", "2"),
    ]


def test_bad_page_tokens_and_limits_are_refused(store: Store) -> None:
    for _ in range(3):
        store.assets.create(MODEL, "m", None, _spec(), None)
    token = store.assets.list_versions(MODEL, "m", limit=1).next_token
    assert token is not None
    with pytest.raises(InvalidInputError, match="is not valid for this listing"):
        store.assets.list_versions(MODEL, "other", page_token=token)
    with pytest.raises(InvalidInputError, match="is not valid for this listing"):
        store.assets.list_versions(MODEL, "m", page_token="not-a-token!")
    with pytest.raises(InvalidInputError, match="limit must be a positive integer"):
        store.assets.list_versions(MODEL, "m", limit=0)


# --- update, archive, restore ---------------------------------------------------------------


def test_update_changes_description_and_tags_only(store: Store) -> None:
    created, _ = store.assets.create(MODEL, "m", None, _spec(tags={"old": "1"}), HASH_A)
    updated = store.assets.update(MODEL, "m", "1", description="better", tags={"new": "2"})
    assert updated.spec == _spec(description="better", tags={"new": "2"})
    assert updated.content_hash == HASH_A
    assert updated.created_at == created.created_at
    assert updated.updated_at >= created.updated_at
    assert store.assets.get(MODEL, "m", "1") == updated
    untouched = store.assets.update(MODEL, "m", "1")
    assert untouched == updated
    with pytest.raises(NotFoundError, match="model 'm' has no version '2'"):
        store.assets.update(MODEL, "m", "2", description="x")


def test_archive_and_restore(store: Store) -> None:
    for _ in range(3):
        store.assets.create(MODEL, "m", None, _spec(), None)
    archived = store.assets.set_archived(MODEL, "m", "2", True)
    assert [(r.version, r.archived) for r in archived] == [("2", True)]
    assert store.assets.get(MODEL, "m", "2").archived  # archived versions stay readable

    every = store.assets.set_archived(MODEL, "m", None, True)
    assert [(r.version, r.archived) for r in every] == [("3", True), ("2", True), ("1", True)]
    assert store.assets.list_versions(MODEL, "m").items == []

    restored = store.assets.set_archived(MODEL, "m", "1", False)
    assert [(r.version, r.archived) for r in restored] == [("1", False)]
    assert store.assets.latest(MODEL, "m").version == "1"

    with pytest.raises(NotFoundError, match="model 'm' has no version '9'"):
        store.assets.set_archived(MODEL, "m", "9", True)
    with pytest.raises(NotFoundError, match="no model named 'nope'"):
        store.assets.set_archived(MODEL, "nope", None, True)


def test_records_survive_reopening(store_url: str) -> None:
    first = open_store(store_url)
    try:
        created, _ = first.assets.create(MODEL, "m", None, _spec(), HASH_A)
        first.secrets.put("token", b"\x00secret")
    finally:
        first.close()
    second = open_store(store_url, migrate=False)
    try:
        assert second.assets.get(MODEL, "m", "1") == created
        assert second.secrets.get("token").ciphertext == b"\x00secret"
    finally:
        second.close()


# --- named resources ------------------------------------------------------------------------


def test_named_resources_crud(store: Store) -> None:
    created, was_created = store.resources.put("datastore", "blobs", {"type": "azure_blob"})
    assert was_created
    assert created.created_at.tzinfo is timezone.utc
    replaced, was_created = store.resources.put("datastore", "blobs", {"type": "s3"})
    assert not was_created
    assert replaced.spec == {"type": "s3"}
    assert replaced.created_at == created.created_at
    assert replaced.updated_at >= created.updated_at
    assert store.resources.get("datastore", "blobs") == replaced

    store.resources.put("compute", "blobs", {"size": 2})  # another kind, same name
    store.resources.delete("datastore", "blobs")
    with pytest.raises(NotFoundError) as caught:
        store.resources.get("datastore", "blobs")
    assert (
        caught.value.message == "no datastore named 'blobs'; list them with `ferry datastore list`"
    )
    with pytest.raises(NotFoundError, match="no datastore named 'blobs'"):
        store.resources.delete("datastore", "blobs")
    assert store.resources.get("compute", "blobs").spec == {"size": 2}


def test_named_resources_list_by_name_in_pages(store: Store) -> None:
    for name in ("c", "a", "e", "b", "d"):
        store.resources.put("compute", name, {"name": name})
    store.resources.put("datastore", "zzz", {})
    names: list[list[str]] = []
    token: str | None = None
    while True:
        page = store.resources.list("compute", limit=2, page_token=token)
        names.append([record.name for record in page.items])
        token = page.next_token
        if token is None:
            break
    assert names == [["a", "b"], ["c", "d"], ["e"]]
    with pytest.raises(InvalidInputError):
        store.resources.list(
            "datastore", page_token=store.resources.list("compute", limit=1).next_token
        )


# --- secrets --------------------------------------------------------------------------------


def test_secrets_crud(store: Store) -> None:
    created, was_created = store.secrets.put("db-password", b"\x00\xffcipher")
    assert was_created
    assert created.ciphertext == b"\x00\xffcipher"
    replaced, was_created = store.secrets.put("db-password", b"other")
    assert not was_created
    assert replaced.created_at == created.created_at
    assert store.secrets.get("db-password").ciphertext == b"other"
    store.secrets.put("api-key", b"k")
    assert [s.name for s in store.secrets.list()] == ["api-key", "db-password"]

    store.secrets.delete("db-password")
    with pytest.raises(NotFoundError) as caught:
        store.secrets.get("db-password")
    assert (
        caught.value.message
        == "no secret named 'db-password'; check the name, or create the secret first"
    )
    with pytest.raises(NotFoundError):
        store.secrets.delete("db-password")
    assert [s.name for s in store.secrets.list()] == ["api-key"]
