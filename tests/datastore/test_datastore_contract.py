"""One behaviour suite for every datastore type: local folder, S3 (moto), Azure Blob (Azurite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ferry.datastore import Datastore
from ferry.errors import (
    ConflictError,
    FerryError,
    InvalidInputError,
    NotFoundError,
    UnsafePathError,
)


def tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` by relative posix path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def raw_names(store: Datastore, folder: str) -> list[str]:
    """The names the filesystem itself holds in ``folder`` (markers and temps included)."""
    full = store.full_path(folder)
    if not store.fs.exists(full):
        return []
    return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in store.fs.ls(full, detail=False))


def test_commit_folder_then_read_it_back(store: Datastore, model_dir: Path, tmp_path: Path) -> None:
    store.commit(model_dir, "models/abc123")

    assert store.exists("models/abc123")
    assert store.is_dir("models/abc123")
    assert store.list_files("models/abc123") == sorted(tree(model_dir))
    with store.open_read("models/abc123/unet/config.json") as fh:
        assert fh.read() == b'{"sample_size": 8}'
    got = store.download("models/abc123", tmp_path / "out")
    assert got == tmp_path / "out" / "abc123"
    assert tree(got) == tree(model_dir)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["abc123"]  # no staging left


def test_commit_single_file(store: Datastore, tmp_path: Path) -> None:
    src = tmp_path / "model.pkl"
    src.write_bytes(b"pickle-bytes")

    store.commit(src, "blobs/sha/model.pkl")

    assert store.exists("blobs/sha/model.pkl")
    assert not store.is_dir("blobs/sha/model.pkl")
    assert store.list_files("blobs") == ["sha/model.pkl"]
    got = store.download("blobs/sha/model.pkl", tmp_path / "dl")
    assert got == tmp_path / "dl" / "model.pkl"
    assert got.read_bytes() == b"pickle-bytes"
    with pytest.raises(InvalidInputError, match="is a file, not a folder"):
        store.list_files("blobs/sha/model.pkl")


def test_commit_to_an_existing_path_is_a_no_op(store: Datastore, tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_bytes(b"first")
    second.write_bytes(b"second")

    store.commit(first, "cas/x")
    store.commit(second, "cas/x")

    with store.open_read("cas/x") as fh:
        assert fh.read() == b"first"
    assert raw_names(store, "cas") == ["x"]


def test_missing_paths_raise_not_found_naming_them(store: Datastore, tmp_path: Path) -> None:
    assert not store.exists("nope/file.txt")
    assert not store.is_dir("nope")
    msg = f"datastore '{store.name}' has no 'nope/file.txt'; check the path"
    with pytest.raises(NotFoundError, match=msg):
        store.open_read("nope/file.txt")
    with pytest.raises(NotFoundError, match=msg):
        store.download("nope/file.txt", tmp_path)
    with pytest.raises(NotFoundError, match=msg):
        store.delete("nope/file.txt")
    with pytest.raises(NotFoundError, match=f"datastore '{store.name}' has no 'nope'"):
        store.list_files("nope")
    store.delete("nope/file.txt", missing_ok=True)


def test_delete_removes_file_or_folder(store: Datastore, model_dir: Path) -> None:
    store.commit(model_dir, "models/m1")
    store.commit(model_dir / "vae" / "config.json", "models/c.json")

    store.delete("models/m1")
    store.delete("models/c.json")

    assert not store.exists("models/m1")
    assert not store.exists("models/c.json")
    with pytest.raises(InvalidInputError, match="refusing to delete the datastore's root"):
        store.delete("")


def test_download_refuses_to_overwrite(store: Datastore, model_dir: Path, tmp_path: Path) -> None:
    store.commit(model_dir, "models/m")
    (tmp_path / "out" / "m").mkdir(parents=True)

    with pytest.raises(ConflictError, match=r"out/m' already exists; download into another"):
        store.download("models/m", tmp_path / "out")


def test_paths_that_escape_the_root_are_refused(store: Datastore, model_dir: Path) -> None:
    with pytest.raises(UnsafePathError, match=r"'\.\./etc/passwd' climbs out of the datastore"):
        store.exists("../etc/passwd")
    with pytest.raises(UnsafePathError, match="climbs out of the datastore"):
        store.commit(model_dir, "models/../../outside")
    with pytest.raises(InvalidInputError, match="cannot commit to the datastore's root"):
        store.commit(model_dir, "a/..")
    assert store.uri("models/./x/../y") == f"azureml://datastores/{store.name}/paths/models/y"


def test_in_flight_names_are_hidden_from_listings(store: Datastore, model_dir: Path) -> None:
    store.commit(model_dir, "data/ok")
    # What a killed process leaves behind: a temporary upload and a pending marker.
    store.fs.pipe_file(store.full_path(f"data/ok2.tmp-{'0' * 32}/x.bin"), b"partial")
    store.fs.pipe_file(store.full_path("data/ok3.ferry-pending"), b"")

    assert store.list_files("data") == sorted(f"ok/{f}" for f in tree(model_dir))


def test_sweep_removes_only_what_killed_commits_left(store: Datastore, model_dir: Path) -> None:
    store.commit(model_dir, "data/ok")
    store.fs.pipe_file(store.full_path(f"data/ok2.tmp-{'0' * 32}/x.bin"), b"partial")
    store.fs.pipe_file(store.full_path(f"data/deep/f.out.tmp-{'1' * 32}"), b"partial")
    store.fs.pipe_file(store.full_path("data/ok3.ferry-pending"), b"")
    store.fs.pipe_file(store.full_path("data/deep/kept.tmp-not-ours"), b"user data")

    removed = store.sweep("data")

    assert sorted(removed) == [
        f"deep/f.out.tmp-{'1' * 32}",
        f"ok2.tmp-{'0' * 32}/x.bin",
        "ok3.ferry-pending",
    ]
    assert store.list_files("data") == sorted(
        ["deep/kept.tmp-not-ours", *(f"ok/{f}" for f in tree(model_dir))]
    )
    assert store.sweep("data") == [] and store.sweep("nothing/here") == []


def test_commit_refuses_links_out_of_the_folder(store: Datastore, tmp_path: Path) -> None:
    src = tmp_path / "leaky"
    src.mkdir()
    (src / "ok.txt").write_text("ok")
    (src / "key").symlink_to("/etc/hostname")

    with pytest.raises(UnsafePathError, match="points outside the folder"):
        store.commit(src, "models/leaky")
    assert not store.exists("models/leaky")


def failing_fs(fs: Any, *, put_fails_at: int = 0, copy_fails_at: int = 0) -> Any:
    """A new instance of ``fs``'s own class whose Nth upload (or copy) raises OSError.

    Every other call goes to the real filesystem, so what is left behind is real.
    """
    calls = {"put": 0, "copy": 0}

    def tick(kind: str, limit: int) -> None:
        calls[kind] += 1
        if calls[kind] == limit:
            raise OSError(f"simulated failure in {kind} #{limit}")

    class Failing(type(fs)):  # type: ignore[misc]
        def put_file(self, lpath: str, rpath: str, **kwargs: Any) -> Any:  # local (sync) path
            tick("put", put_fails_at)
            return super().put_file(lpath, rpath, **kwargs)

        async def _put_file(self, lpath: str, rpath: str, **kwargs: Any) -> Any:  # async path
            tick("put", put_fails_at)
            return await super()._put_file(lpath, rpath, **kwargs)

        async def _cp_file(self, path1: str, path2: str, **kwargs: Any) -> Any:
            tick("copy", copy_fails_at)
            return await super()._cp_file(path1, path2, **kwargs)

    options = {**fs.storage_options, "skip_instance_cache": True}
    return Failing(*fs.storage_args, **options)


def test_failed_upload_leaves_nothing(store: Datastore, model_dir: Path) -> None:
    broken = Datastore(
        store.name, failing_fs(store.fs, put_fails_at=3), store.root, local=store.local
    )

    with pytest.raises(FerryError, match=r"cannot upload to 'models/m'.*simulated failure"):
        broken.commit(model_dir, "models/m")

    assert not store.exists("models/m")
    assert raw_names(store, "models") == []
    store.commit(model_dir, "models/m")  # and a retry works
    assert store.list_files("models/m") == sorted(tree(model_dir))


def test_failed_copy_leaves_nothing(object_store: Datastore, model_dir: Path) -> None:
    store = object_store
    broken = Datastore(store.name, failing_fs(store.fs, copy_fails_at=4), store.root)

    with pytest.raises(FerryError, match="simulated failure in copy #4"):
        broken.commit(model_dir, "models/m")

    assert not store.exists("models/m")
    assert raw_names(store, "models") == []


def test_crashed_commit_is_invisible_and_replaced(object_store: Datastore, tmp_path: Path) -> None:
    store = object_store
    # A commit that died while copying: part of the folder plus its pending marker.
    store.fs.pipe_file(store.full_path("models/m/stale.bin"), b"partial")
    store.fs.pipe_file(store.full_path("models/m.ferry-pending"), b"")
    assert not store.exists("models/m")
    with pytest.raises(NotFoundError, match="has no 'models/m'"):
        store.list_files("models/m")

    src = tmp_path / "m"
    src.mkdir()
    (src / "fresh.bin").write_bytes(b"complete")
    store.commit(src, "models/m")

    assert store.exists("models/m")
    assert store.list_files("models/m") == ["fresh.bin"]
    assert raw_names(store, "models") == ["m"]


def test_data_written_by_other_tools_is_visible(object_store: Datastore, tmp_path: Path) -> None:
    # No Ferry marker at all, as after `aws s3 cp` or `azcopy`: still found.
    object_store.fs.pipe_file(object_store.full_path("external/part-0.csv"), b"a,b\n1,2\n")

    assert object_store.exists("external")
    assert object_store.list_files("external") == ["part-0.csv"]


def test_local_path_only_for_local_stores(store: Datastore, model_dir: Path) -> None:
    store.commit(model_dir, "models/m")
    local = store.local_path("models/m/vae/config.json")
    if store.local:
        assert local is not None
        assert local.read_bytes() == b"{}"
        assert local.is_absolute()
    else:
        assert local is None
