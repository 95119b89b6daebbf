"""InputStaging on real folders: the digest is ferry.archive.content_hash's, links where the
filesystem allows, copies across filesystems, and nothing is left when staging fails."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferry import hash_cache
from ferry.archive import ExtractLimits, content_hash, pack
from ferry.errors import InvalidInputError, PayloadTooLargeError
from ferry.hash_cache import TreeHashCache
from ferry.services import DatastoreService, SecretService
from ferry.services import staging as staging_module
from ferry.services.staging import INPUT_FOLDER, InputStaging
from ferry.store import open_store
from ferry.vault import Vault

SHM = Path("/dev/shm")


@pytest.fixture
def staging(tmp_path: Path) -> Iterator[InputStaging]:
    store = open_store(f"sqlite:///{tmp_path / 'ws' / 'ferry.db'}")
    secrets = SecretService(store.secrets, Vault(tmp_path / "ws" / "key"))
    datastores = DatastoreService(store.resources, secrets, tmp_path / "ws" / "blobstore")
    datastores.ensure_default()
    try:
        yield InputStaging(datastores, tmp_path / "ws" / "tmp", ExtractLimits(max_files=50))
    finally:
        store.close()


def _tree(root: Path) -> Path:
    (root / "a" / "b").mkdir(parents=True)
    (root / "a-c").write_text("sorts before a/ in the digest")
    (root / "a" / "b" / "x.txt").write_text("x")
    (root / "a" / "empty").mkdir()
    (root / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 5))  # streamed, not read whole
    (root / "zero.bin").write_bytes(b"")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    (root / "link-to-x").symlink_to(root / "a" / "b" / "x.txt")  # inside: stored as the file
    (root / "dir-link").symlink_to(root / "a")
    return root


def _local(tmp_path: Path, uri: str) -> Path:
    return tmp_path / "ws" / "blobstore" / uri.split("/paths/", 1)[1]


def test_digest_is_content_hash_and_files_are_linked(staging: InputStaging, tmp_path: Path) -> None:
    source = _tree(tmp_path / "data")
    staged = staging.from_path(str(source))
    assert staged.content_hash == content_hash(source)
    assert staged.method == "link"  # ext4 here: no reflinks
    assert staged.files == 7
    out = _local(tmp_path, staged.uri)
    assert out.name == "data"
    assert (out / "big.bin").stat().st_ino == (source / "big.bin").stat().st_ino
    assert (out / "link-to-x").read_text() == "x" and not (out / "link-to-x").is_symlink()
    assert (out / "dir-link" / "b" / "x.txt").read_text() == "x"
    assert (out / "a" / "empty").is_dir()
    assert os.access(out / "run.sh", os.X_OK)
    again = staging.from_path(str(source))
    assert (again.method, again.uri) == ("existing", staged.uri)
    assert staging.find(staged.content_hash, "data").uri == staged.uri


def test_a_single_file_is_staged(staging: InputStaging, tmp_path: Path) -> None:
    source = tmp_path / "one.csv"
    source.write_text("a,b\n")
    staged = staging.from_path(str(source))
    assert staged.content_hash == content_hash(source)
    assert _local(tmp_path, staged.uri).read_text() == "a,b\n"


@pytest.mark.skipif(not SHM.is_dir(), reason="needs /dev/shm, a second filesystem")
def test_across_filesystems_files_are_copied(staging: InputStaging, tmp_path: Path) -> None:
    source = _tree(Path(os.environ.get("FERRY_TEST_SHM", SHM)) / f"ferry-stage-{os.getpid()}")
    try:
        staged = staging.from_path(str(source))
        assert staged.method == "copy"
        out = _local(tmp_path, staged.uri)
        assert (out / "big.bin").read_bytes() == (source / "big.bin").read_bytes()
        assert (out / "big.bin").stat().st_ino != (source / "big.bin").stat().st_ino
        assert os.access(out / "run.sh", os.X_OK)
    finally:
        for path in sorted(source.rglob("*"), reverse=True):
            path.unlink() if path.is_file() or path.is_symlink() else path.rmdir()
        source.rmdir()


def test_an_archive_stages_the_same_tree(staging: InputStaging, tmp_path: Path) -> None:
    source = _tree(tmp_path / "data")
    (source / "big.bin").unlink()  # keep the archive small
    buffer = io.BytesIO()
    pack(source, buffer, compresslevel=1)
    buffer.seek(0)
    staged = staging.from_archive(buffer)
    assert staged.content_hash == content_hash(source)
    assert staging.from_path(str(source)).uri == staged.uri  # the same content, found
    assert not list((tmp_path / "ws" / "tmp").iterdir())


def test_failures_leave_nothing(staging: InputStaging, tmp_path: Path) -> None:
    staged_root = tmp_path / "ws" / "blobstore" / INPUT_FOLDER
    many = tmp_path / "many"
    many.mkdir()
    for i in range(60):
        (many / f"f{i}").write_text(str(i))
    buffer = io.BytesIO()
    pack(many, buffer, compresslevel=1)
    buffer.seek(0)
    with pytest.raises(PayloadTooLargeError, match="more than 50 files and folders"):
        staging.from_archive(buffer)
    fifo = tmp_path / "fifo-data"
    fifo.mkdir()
    (fifo / "a.txt").write_text("a")
    os.mkfifo(fifo / "b-pipe")
    with pytest.raises(InvalidInputError, match="is not a regular file or folder"):
        staging.from_path(str(fifo))
    assert not staged_root.exists() or not list(staged_root.iterdir())
    assert not list((tmp_path / "ws" / "tmp").iterdir())


_AS_CHILD = """
import json, sys
from pathlib import Path
from ferry.archive import ExtractLimits
from ferry.errors import FerryError
from ferry.services import DatastoreService, SecretService
from ferry.services.staging import InputStaging
from ferry.store import open_store
from ferry.vault import Vault

ws = Path(sys.argv[1])
store = open_store(f"sqlite:///{ws / 'ferry.db'}")
datastores = DatastoreService(
    store.resources, SecretService(store.secrets, Vault(ws / "key")), ws / "blobstore"
)
datastores.ensure_default()
try:
    InputStaging(datastores, ws / "tmp", ExtractLimits()).from_path(sys.argv[2])
except FerryError as exc:
    print(json.dumps({"message": exc.message, "details": exc.details}))
"""


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    """A file the workspace's user cannot read is named with the fix, and nothing is staged.

    Root reads every file, so as root the staging runs in a child without the capabilities
    that let root ignore file modes (setpriv); it stays uid 0, so it still reaches the venv in a
    clone under a 0700 folder (``mktemp -d``), which ``nobody`` could not.
    """
    shared = Path(tempfile.mkdtemp(prefix="ferry-unreadable-"))
    try:
        shared.chmod(0o755)
        source = shared / "locked"
        source.mkdir()
        (source / "a.txt").write_text("a")
        (source / "secret.txt").write_text("s")
        (source / "secret.txt").chmod(0)
        ws = shared / "ws"
        ws.mkdir()
        ws.chmod(0o700)
        command = [sys.executable, "-c", _AS_CHILD, str(ws), str(source)]
        if os.geteuid() == 0:
            command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
        error = json.loads(result.stdout)
        assert (
            f"the file '{source / 'secret.txt'}' cannot be read by the workspace's user "
            "(permission denied); make it readable (chmod u+r)" in error["message"]
        )
        assert error["details"]["field"] == "path"
        staged = ws / "blobstore" / INPUT_FOLDER
        assert not staged.exists() or not list(staged.iterdir())
    finally:
        shutil.rmtree(shared, ignore_errors=True)


@pytest.fixture
def cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InputStaging]:
    """Staging with a hash cache; a test's files count as older than the racy margin."""
    monkeypatch.setattr(hash_cache, "RACY_MARGIN_NS", -3600 * 10**9)
    store = open_store(f"sqlite:///{tmp_path / 'ws' / 'ferry.db'}")
    secrets = SecretService(store.secrets, Vault(tmp_path / "ws" / "key"))
    datastores = DatastoreService(store.resources, secrets, tmp_path / "ws" / "blobstore")
    datastores.ensure_default()
    cache = TreeHashCache(tmp_path / "ws" / "cache")
    try:
        yield InputStaging(datastores, tmp_path / "ws" / "tmp", ExtractLimits(), cache)
    finally:
        store.close()


def _unread(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> str:
        raise AssertionError("the tree was read again: the hash cache should have answered")

    monkeypatch.setattr(staging_module, "_digest", refuse)


def test_a_folder_staged_by_links_is_found_again_without_reading(
    cached: InputStaging, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _tree(tmp_path / "data")
    ctime = (source / "a-c").stat().st_ctime_ns
    first = cached.from_path(str(source))
    assert first.method == "link"
    # The links changed each file's ctime; the cache knows they were staging's own.
    assert (source / "a-c").stat().st_ctime_ns != ctime
    _unread(monkeypatch)
    again = cached.from_path(str(source))
    assert (again.method, again.uri, again.content_hash) == (
        "existing",
        first.uri,
        first.content_hash,
    )
    assert again.content_hash == content_hash(source)
    assert cached.from_path(str(source)).content_hash == first.content_hash


def test_a_file_rewritten_in_place_after_staging_is_read_again(
    cached: InputStaging, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the links' window: a ctime inside it is taken for staging's own link (the file is
    the staged copy's inode then, so its content is the staged content either way)."""
    monkeypatch.setattr(hash_cache, "_CLOCK_SLACK_NS", 0)
    source = _tree(tmp_path / "data")
    first = cached.from_path(str(source))
    time.sleep(0.05)  # past the window, by more than a tick of the kernel's coarse clock
    target = source / "a" / "b" / "x.txt"
    was = target.stat()
    target.write_text("y")  # same size, same inode (the staged link sees it too)
    os.utime(target, ns=(was.st_atime_ns, was.st_mtime_ns))
    again = cached.from_path(str(source))
    assert again.content_hash == content_hash(source) != first.content_hash
    assert again.uri != first.uri


def test_an_uploaded_archive_is_not_remembered(cached: InputStaging, tmp_path: Path) -> None:
    source = _tree(tmp_path / "data")
    buf = io.BytesIO()
    pack(source, buf)
    buf.seek(0)
    cached.from_archive(buf)
    assert not list((tmp_path / "ws" / "cache").glob("*.tree"))
