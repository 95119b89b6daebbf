"""ferry.hash_cache through ferry.archive.content_hash: a remembered digest is returned only for a
tree whose names and file stats are all unchanged, and it is always the digest a full read gives."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ferry import hash_cache
from ferry.archive import content_hash, walk_tree
from ferry.hash_cache import TreeHashCache, TreeKeys, stat_keys


@pytest.fixture
def old_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files count as older than the racy margin (a test's files are seconds old at most)."""
    monkeypatch.setattr(hash_cache, "RACY_MARGIN_NS", -3600 * 10**9)


def _tree(root: Path) -> Path:
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "x.txt").write_text("x")
    (root / "a" / "empty").mkdir()
    (root / "a-c").write_text("sorts before a/")
    (root / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    (root / "zero.bin").write_bytes(b"")
    (root / "link-to-x").symlink_to(root / "a" / "b" / "x.txt")
    (root / "dir-link").symlink_to(root / "a")
    return root


def _no_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{self} was opened: the cache should have answered")

    monkeypatch.setattr(Path, "open", refuse)


def _listing(source: Path) -> list[tuple[str, str | None]]:
    return [(e.rel, None if e.is_dir else str(e.source)) for e in walk_tree(source)]


def _record(cache: TreeHashCache, root: Path) -> Path:
    (record,) = cache.folder.glob("*.tree")
    assert cache.known(os.path.realpath(root))
    return record


@pytest.mark.usefixtures("old_files")
def test_cached_and_uncached_hashes_are_equal_and_the_warm_one_reads_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _tree(tmp_path / "data")
    cache = TreeHashCache(tmp_path / "cache")
    plain = content_hash(source)
    cold = content_hash(source, cache=cache)
    _record(cache, source)
    _no_reads(monkeypatch)
    assert content_hash(source, cache=cache) == cold == plain


@pytest.mark.usefixtures("old_files")
def test_each_root_has_its_own_record(tmp_path: Path) -> None:
    source = _tree(tmp_path / "data")
    cache = TreeHashCache(tmp_path / "cache")
    whole = content_hash(source, cache=cache)
    part = content_hash(source / "a", cache=cache)
    one = content_hash(source / "a-c", cache=cache)
    assert len(list(cache.folder.glob("*.tree"))) == 3
    assert (whole, part, one) == (
        content_hash(source, cache=cache),
        content_hash(source / "a", cache=cache),
        content_hash(source / "a-c", cache=cache),
    )
    assert (whole, part, one) == (
        content_hash(source),
        content_hash(source / "a"),
        content_hash(source / "a-c"),
    )


@pytest.mark.usefixtures("old_files")
def test_a_file_rewritten_with_the_same_size_and_mtime_is_read_again(tmp_path: Path) -> None:
    source = _tree(tmp_path / "data")
    cache = TreeHashCache(tmp_path / "cache")
    before = content_hash(source, cache=cache)
    target = source / "a" / "b" / "x.txt"
    was = target.stat()
    target.write_text("y")  # same size
    os.utime(target, ns=(was.st_atime_ns, was.st_mtime_ns))  # mtime put back; ctime moves on
    now = target.stat()
    assert (now.st_size, now.st_mtime_ns, now.st_ino) == (was.st_size, was.st_mtime_ns, was.st_ino)
    after = content_hash(source, cache=cache)
    assert after != before
    assert after == content_hash(source)


def test_files_changed_after_the_hash_began_are_not_trusted(tmp_path: Path) -> None:
    """Git's racy case: a file rewritten within its clock's tick keeps mtime, ctime and size, so
    a key taken less than the margin before the hash began must not be remembered."""
    cache = TreeHashCache(tmp_path / "cache")

    def keys(changed_ns_before_start: int, started_ns: int | None = None) -> TreeKeys:
        made = TreeKeys()
        if started_ns is not None:
            made.started_ns = started_ns
        when = made.started_ns - changed_ns_before_start
        times = {"st_mtime_ns": when, "st_ctime_ns": when}
        made.add_file("f", os.stat_result((0o100644, 7, 8, 1, 0, 0, 1, 0, 0, 0), times))
        return made

    recent = hash_cache.RACY_MARGIN_NS // 2
    assert keys(recent).racy
    assert not cache.store("/data", keys(recent), "sha256:" + "11" * 32)
    assert cache.lookup("/data", keys(recent)) is None
    old = 2 * hash_cache.RACY_MARGIN_NS
    first = keys(old)
    assert not first.racy
    assert cache.store("/data", first, "sha256:" + "22" * 32)
    # The same stat later on: trusted, since the file had not changed for a while when read.
    later = keys(old + 10**9, started_ns=first.started_ns + 10**9)
    assert cache.lookup("/data", later) == "sha256:" + "22" * 32


def test_freshly_written_files_are_hashed_but_not_remembered(tmp_path: Path) -> None:
    source = _tree(tmp_path / "data")
    cache = TreeHashCache(tmp_path / "cache")
    assert content_hash(source, cache=cache) == content_hash(source)
    assert not cache.known(os.path.realpath(source))


@pytest.mark.usefixtures("old_files")
def test_added_and_deleted_files_change_the_hash(tmp_path: Path) -> None:
    source = _tree(tmp_path / "data")
    cache = TreeHashCache(tmp_path / "cache")
    original = content_hash(source, cache=cache)
    (source / "a" / "new.txt").write_text("")
    added = content_hash(source, cache=cache)
    assert added != original
    assert added == content_hash(source)
    (source / "a" / "new.txt").unlink()
    assert content_hash(source, cache=cache) == original
    (source / "a-c").unlink()
    deleted = content_hash(source, cache=cache)
    assert deleted not in (original, added)
    assert deleted == content_hash(source)
    (source / "a" / "empty").rmdir()  # an empty folder counts too
    assert content_hash(source, cache=cache) == content_hash(source) != deleted


@pytest.mark.usefixtures("old_files")
@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: data[: len(data) // 2],
        lambda data: data[:80] + bytes([data[80] ^ 1]) + data[81:],  # inside the tree digest
        lambda data: b"FERRYTH9" + data[8:],
        lambda data: os.urandom(len(data)),
    ],
    ids=["empty", "truncated", "bit-flip", "other-format", "garbage"],
)
def test_a_corrupt_record_is_ignored_and_replaced(tmp_path: Path, damage: Any) -> None:
    source = _tree(tmp_path / "data")
    cache = TreeHashCache(tmp_path / "cache")
    expected = content_hash(source, cache=cache)
    record = _record(cache, source)
    good = record.read_bytes()
    damaged = damage(good)
    record.write_bytes(damaged)
    assert content_hash(source, cache=cache) == expected
    # Read again and remembered afresh.
    assert record.read_bytes() != damaged
    assert cache.lookup(os.path.realpath(source), stat_keys(_listing(source))) == expected


@pytest.mark.usefixtures("old_files")
def test_a_record_others_can_write_is_not_trusted(tmp_path: Path) -> None:
    source = _tree(tmp_path / "data")
    cache = TreeHashCache(tmp_path / "cache")
    content_hash(source, cache=cache)
    record = _record(cache, source)
    root = os.path.realpath(source)
    keys = stat_keys(_listing(source))
    assert cache.lookup(root, keys) is not None
    record.chmod(0o666)  # anyone could have written the digest in it
    assert cache.lookup(root, keys) is None
