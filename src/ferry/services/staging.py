# ruff: noqa: PTH101, PTH102, PTH108, PTH116, PTH117
# os functions on str paths, not pathlib: Path objects cost microseconds per file, and a staged
# folder may hold a million files.
"""Stage a job's local input (a file or folder) into the default datastore, once per content.

A batch invoke on a local folder used to register a data version from a tar.gz upload: the SDK
packed every file through gzip, the server unpacked it, hashed it and copied it into the
datastore, about 0.7 ms per file. Staging costs far less than scoring:

* **Content-addressed.** The staged tree lives at ``LocalInputs/<folder>/<name>``, ``<folder>``
  derived from the tree's :func:`ferry.archive.content_hash` and its name, so staging the same
  content again finds it there and writes nothing. The digest is the one ``content_hash`` gives,
  so a client can ask whether the server has a tree before uploading it.
* **Not read again.** A folder a client names is hashed once; its digest is remembered with each
  file's stat (:mod:`ferry.hash_cache`, in the workspace), so staging it again, unchanged, stats
  the files instead of reading them. Unpacked uploads are not remembered.
* **Links on a shared filesystem.** When the client and a local server share the filesystem, the
  client names the folder and the server reflinks (copy-on-write), else hard-links, each file into
  the datastore; across filesystems (or where a link is refused) it copies.
* **One archive otherwise.** A remote client sends one tar(.gz) stream; it is unpacked in the
  workspace's scratch folder and staged from there the same way.

Nothing half-staged is ever visible: the tree is built under a temporary sibling (a name listings
hide) and renamed into place whole; any failure removes it. No data version is created: the job
refers to the staged folder by its ``azureml://`` URI, as Azure's SDK does with a local input, so
an invoke that is refused leaves no version behind.

The source may not escape what the client named: a path with a ``..`` component is refused, and
so is a symlink inside the folder that points outside it (its target is not the client's to
ship). A hard link shares the file's inode with the source, so the job reads the user's bytes
without a copy; a file changed *in place* after staging changes the staged copy too (editors and
tools that write a new file and rename it do not), which is why a reflink is tried first.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gzip
import hashlib
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Literal, NamedTuple, cast

from ferry.archive import ExtractLimits, safe_extract
from ferry.datastore.commit import temp_name
from ferry.errors import ForbiddenError, InvalidInputError, NotFoundError, UnsafePathError
from ferry.hash_cache import TreeHashCache, TreeKeys, file_key, stat_keys
from ferry.services.datastores import DatastoreService

__all__ = ["INPUT_FOLDER", "InputStaging", "StagedInput", "staged_folder"]

INPUT_FOLDER = "LocalInputs"
"""The default datastore's folder of staged job inputs (kept apart from asset uploads, which the
janitor removes when no asset version refers to them: a job may still need its input)."""

_CHUNK = 1024 * 1024
_FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
# Errors that mean "this filesystem (pair) cannot link or clone", not "this file is bad".
_NO_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EACCES}
_NO_CLONE = {errno.EXDEV, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL, errno.ENOTTY, errno.EBADF}

Method = Literal["reflink", "link", "copy", "existing", "datastore"]


@dataclass(frozen=True)
class StagedInput:
    """Where a staged input is, what it holds and how it got there."""

    uri: str
    """``azureml://datastores/<default>/paths/LocalInputs/<folder>/<name>``."""
    content_hash: str
    files: int
    method: Method
    """``existing`` when the content was staged before (nothing written)."""


class _Entry(NamedTuple):  # a tuple: a million of them are made quickly
    rel: str
    """Posix path below the top-level entry; ``""`` for the top-level entry itself."""
    source: str
    is_dir: bool


def staged_folder(content_hash: str, name: str) -> str:
    """The datastore path of a tree of this content under this top-level name."""
    folder = hashlib.sha256(f"{content_hash}/{name}".encode()).hexdigest()[:32]
    return f"{INPUT_FOLDER}/{folder}/{name}"


class InputStaging:
    """Stages local inputs into the default datastore (see the module docstring)."""

    def __init__(
        self,
        datastores: DatastoreService,
        scratch: Path,
        limits: ExtractLimits,
        hash_cache: TreeHashCache | None = None,
    ) -> None:
        self._datastores = datastores
        self._scratch = scratch
        self._limits = limits
        # Only for paths a client names: an unpacked upload is new every time.
        self._hash_cache = hash_cache

    def find(self, content_hash: str, name: str) -> StagedInput:
        """The input staged before with this content and name.

        Raises:
            NotFoundError: none is staged (upload it).
        """
        _check_name(name)
        store = self._datastores.default
        dest = staged_folder(content_hash, name)
        if not store.exists(dest):
            raise NotFoundError(
                f"no input with content {content_hash} named {name!r} is staged; upload it.",
                details={"field": "content_hash"},
            )
        return StagedInput(store.uri(dest), content_hash, -1, "existing")

    def from_path(self, path: str, *, uid: int | None = None) -> StagedInput:
        """Stage the file or folder ``path`` on the server's machine (a local workspace).

        Args:
            path: an absolute path, as the client named it (resolved by the client).
            uid: the client's user id; staging for another user than the server's is refused.

        Raises:
            InvalidInputError: ``path`` is relative or has a ``..`` component; a file cannot be
                read; an entry is a fifo, socket or device.
            UnsafePathError: a symlink inside the folder points outside it.
            ForbiddenError: the client runs as another user than the server.
            NotFoundError: ``path`` does not exist on the server's machine.
        """
        if uid is not None and uid != os.getuid():
            raise ForbiddenError(
                f"the client runs as uid {uid} but the server as uid {os.getuid()}; a server "
                "links only its own user's files. Upload the input instead "
                "(FERRY_INPUT_STAGING=archive).",
                details={"field": "uid"},
            )
        if not os.path.isabs(path):
            raise InvalidInputError(
                f"path {path!r} is relative; name the input by its absolute path.",
                details={"field": "path"},
            )
        if ".." in PurePosixPath(path).parts:
            raise UnsafePathError(
                f"path {path!r} has a '..' component; name the file or folder itself (the "
                "CLI and SDK resolve the path for you).",
                details={"field": "path"},
            )
        if os.path.realpath(path) == "/":
            raise InvalidInputError(
                "path '/' is the filesystem root; name the folder that holds the input.",
                details={"field": "path"},
            )
        if not os.path.lexists(path):
            raise NotFoundError(
                f"path {path!r} does not exist on the server's machine; a server that does not "
                "share the client's filesystem takes an upload (FERRY_INPUT_STAGING=archive).",
                details={"field": "path"},
            )
        return self._stage(Path(path), name=Path(path).name or "input", cache=self._hash_cache)

    def from_archive(self, archive: BinaryIO) -> StagedInput:
        """Stage the one file or folder in a tar.gz stream (a remote client's upload).

        Raises:
            InvalidInputError: the stream is not gzip, or not a whole tar.gz archive.
            UnsafePathError, PayloadTooLargeError, InvalidInputError: see
                :func:`ferry.archive.safe_extract`.
        """
        # gzip, because its trailer (length and CRC) tells a cut-off upload from a whole one; a
        # plain tar cut at a member boundary reads as a complete, smaller archive.
        if archive.read(2) != b"\x1f\x8b":
            raise InvalidInputError(
                "the archive is not gzip-compressed; send a tar.gz (ferry.archive.pack writes "
                "one), so that a cut-off upload is told from a whole one.",
                details={"field": "archive"},
            )
        archive.seek(0)
        self._scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self._scratch, prefix="stage-") as tmp:
            # GzipFile's 128 KiB reads unpack twice as fast as tarfile's own gzip stream.
            with gzip.GzipFile(fileobj=archive, mode="rb") as unzipped:
                top = safe_extract(cast(BinaryIO, unzipped), Path(tmp), limits=self._limits)
            staged = self._stage(top, name=top.name, cache=None)
        return staged

    # -- the work -----------------------------------------------------------------------------
    def _stage(self, source: Path, *, name: str, cache: TreeHashCache | None) -> StagedInput:
        entries = _scan(source)
        root = os.path.realpath(source)
        digest: str | None = None
        if cache is not None and cache.known(root):
            digest = cache.lookup(
                root, stat_keys((e.rel, None if e.is_dir else e.source) for e in entries)
            )
        keys: TreeKeys | None = None
        if digest is None:
            keys = TreeKeys() if cache is not None else None
            digest = _digest(entries, source, keys)
        files = sum(1 for e in entries if not e.is_dir)
        store = self._datastores.default
        dest = staged_folder(digest, name)
        linked: tuple[int, int] | None = None
        try:
            if store.exists(dest):
                return StagedInput(store.uri(dest), digest, files, "existing")
            local = store.local_path(dest)
            if local is None:
                store.commit(source, dest)  # an object store: upload behind a pending marker
                return StagedInput(store.uri(dest), digest, files, "datastore")
            linked_from = time.time_ns()
            staged = self._build(entries, local, name)
            linked = (linked_from, time.time_ns())
            return StagedInput(store.uri(dest), digest, files, staged)
        finally:
            if cache is not None and keys is not None:
                # Hard links change each source file's ctime: the cache is told when they were
                # made, so that the next stage of this folder still finds it unchanged.
                cache.store(root, keys, digest, linked=linked)

    def _build(self, entries: list[_Entry], local: Path, name: str) -> Method:
        folder = local.parent
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(temp_name(str(folder)))
        try:
            tmp.mkdir()
            method = _place(entries, tmp / name)
            try:
                tmp.rename(folder)
            except OSError:
                # A concurrent staging of the same content got there first; keep theirs.
                if not (local.exists()):
                    raise
                method = "existing"
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return method


def _check_name(name: str) -> None:
    if not name or "/" in name or name in (".", ".."):
        raise InvalidInputError(
            f"name {name!r} is not a file or folder name; pass the input's base name.",
            details={"field": "name"},
        )


def _scan(source: Path) -> list[_Entry]:
    """``source`` and everything below it, sorted by relative path (as ``walk_tree`` lists it).

    ``os.scandir`` instead of ``walk_tree``'s ``Path`` calls: a million files are listed in
    seconds. Symlinks pointing inside the folder are followed; the rules are ``walk_tree``'s.
    """
    root = os.path.realpath(source)
    try:
        mode = os.stat(root).st_mode
    except FileNotFoundError:
        raise NotFoundError(
            f"path '{source}' is a broken symlink; fix it or name the target",
            details={"field": "path"},
        ) from None
    if stat.S_ISREG(mode):
        return [_Entry("", root, is_dir=False)]
    if not stat.S_ISDIR(mode):
        raise InvalidInputError(
            f"path '{source}' is not a regular file or folder (a fifo, socket or device)",
            details={"field": "path"},
        )
    inside = root.rstrip("/") + "/"
    out = [_Entry("", root, is_dir=True)]
    pending: list[tuple[str, str, frozenset[str]]] = [(root, "", frozenset({root}))]
    while pending:
        real, rel, parents = pending.pop()
        for entry in _listing(real, source, rel):
            child = f"{rel}/{entry.name}" if rel else entry.name
            target = entry.path
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if not target.startswith(inside) and target != root:
                    raise UnsafePathError(
                        f"the symlink '{source / child}' points outside the folder, to "
                        f"'{target}'; copy the file into the folder or remove the link",
                        details={"field": "path", "path": str(source / child)},
                    )
                try:
                    mode = os.stat(target).st_mode
                except FileNotFoundError:
                    raise NotFoundError(
                        f"the symlink '{source / child}' points to '{target}', which does not "
                        "exist; fix or remove the link",
                        details={"field": "path", "path": str(source / child)},
                    ) from None
                is_dir, is_file = stat.S_ISDIR(mode), stat.S_ISREG(mode)
            else:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = not is_dir and entry.is_file(follow_symlinks=False)
            if is_dir:
                if target in parents:
                    raise UnsafePathError(
                        f"the symlink '{source / child}' loops back to its own parent folder "
                        f"'{target}'; remove the link",
                        details={"field": "path", "path": str(source / child)},
                    )
                out.append(_Entry(child, target, True))
                pending.append((target, child, parents | {target}))
            elif is_file:
                out.append(_Entry(child, target, False))
            else:
                raise InvalidInputError(
                    f"'{source / child}' is not a regular file or folder (a fifo, socket or "
                    "device); remove it",
                    details={"field": "path", "path": str(source / child)},
                )
    out.sort(key=lambda e: e.rel)
    return out


def _listing(real: str, source: Path, rel: str) -> Iterator[os.DirEntry[str]]:
    try:
        with os.scandir(real) as listing:
            yield from listing
    except PermissionError:
        raise _unreadable(source / rel if rel else source, "folder") from None


def _unreadable(path: Path, what: str) -> InvalidInputError:
    return InvalidInputError(
        f"the {what} '{path}' cannot be read by the workspace's user (permission denied); make "
        f"it readable (chmod u+r{'x' if what == 'folder' else ''}) or leave it out of the input",
        details={"field": "path", "path": str(path)},
    )


def _digest(entries: list[_Entry], source: Path, keys: TreeKeys | None = None) -> str:
    """:func:`ferry.archive.content_hash` of the scanned tree (the same bytes are hashed).

    Small files are read by a few threads ahead of the hashing (``os.read`` lets go of the GIL,
    and a million small files are a million opens): 3x faster here than reading them in turn.
    ``keys``, when given, gets each file's stat, taken on the descriptor that was read.
    """
    digest = hashlib.sha256()
    files = [e for e in entries if not e.is_dir]
    batches = [files[i : i + _READ_BATCH] for i in range(0, len(files), _READ_BATCH)]
    with ThreadPoolExecutor(_READERS) as pool:
        read = iter(pool.map(partial(_read_small, source, keys is not None), batches))
        contents: Iterator[bytes | None] = iter(())
        names: list[bytes] = []
        for entry in entries:
            rel = entry.rel.encode("utf-8")
            record = (b"D" if entry.is_dir else b"F") + len(rel).to_bytes(8, "big") + rel
            digest.update(record)
            if keys is not None:
                names.append(record)
            if entry.is_dir:
                continue
            content = next(contents, _EXHAUSTED)
            if content is _EXHAUSTED:
                batch = next(read)
                contents = iter(batch.contents)
                content = next(contents)
                if keys is not None:
                    keys.add_file_keys(batch.keys, batch.newest_ns)
            if content is None:  # a large file: streamed here
                _hash_large(entry, source, digest)
            else:
                digest.update(len(content).to_bytes(8, "big") + content)
    if keys is not None:
        keys.add_name_records(names)
    return f"sha256:{digest.hexdigest()}"


_READ_BATCH = 256
_READERS = 4
_EXHAUSTED = b"\0exhausted"  # a sentinel compared by identity


class _Batch(NamedTuple):
    contents: list[bytes | None]
    """Each file's bytes when smaller than a chunk, else ``None`` (hashed in a stream)."""
    keys: list[bytes]
    """Each file's :func:`ferry.hash_cache.file_key`, when asked for."""
    newest_ns: int


def _read_small(source: Path, with_keys: bool, batch: list[_Entry]) -> _Batch:
    """Read a batch of files; with their stat keys (taken before the read) for the hash cache.

    The keys are made here, in the reader threads, because the hashing loop is the bottleneck:
    made there, they added about 5 s to a million files.
    """
    contents: list[bytes | None] = []
    keys: list[bytes] = []
    newest = 0
    for entry in batch:
        fd = _open(entry, source)
        try:
            if with_keys:
                st = os.fstat(fd)
                keys.append(file_key(st))
                newest = max(newest, st.st_mtime_ns, st.st_ctime_ns)
            # A short read of a regular file is its end: one read.
            data = os.read(fd, _CHUNK)
        finally:
            os.close(fd)
        contents.append(data if len(data) < _CHUNK else None)
    return _Batch(contents, keys, newest)


def _hash_large(entry: _Entry, source: Path, digest: Any) -> None:
    fd = _open(entry, source)
    try:
        digest.update(os.fstat(fd).st_size.to_bytes(8, "big"))
        while chunk := os.read(fd, _CHUNK):
            digest.update(chunk)
    finally:
        os.close(fd)


def _open(entry: _Entry, source: Path) -> int:
    try:
        return os.open(entry.source, os.O_RDONLY | os.O_CLOEXEC)
    except PermissionError:
        raise _unreadable(source / entry.rel if entry.rel else source, "file") from None


def _place(entries: list[_Entry], top: Path) -> Method:
    """Build ``top`` from ``entries``: reflinks, else hard links, else copies (per file).

    Returns the cheapest method every file got (``copy`` if any file had to be copied).
    """
    method: Method = "reflink"
    clone, link = True, True
    base = str(top)
    for entry in entries:
        target = f"{base}/{entry.rel}" if entry.rel else base
        if entry.is_dir:
            os.mkdir(target)
            continue
        if clone:
            clone = _reflink(entry.source, target)
            if clone:
                continue
            method = "link"
        if link:
            try:
                os.link(entry.source, target, follow_symlinks=False)
                continue
            except OSError as exc:
                if exc.errno not in _NO_LINK:
                    raise
                link = False
        method = "copy"
        shutil.copyfile(entry.source, target)
        if os.stat(entry.source).st_mode & stat.S_IXUSR:
            os.chmod(target, 0o755)
    return method


def _reflink(source: str, target: str) -> bool:
    """Clone ``source`` to ``target`` (copy-on-write) where the filesystem can; else ``False``."""
    src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            fcntl.ioctl(dst, _FICLONE, src)
        except OSError as exc:
            os.close(dst)
            os.unlink(target)
            if exc.errno in _NO_CLONE:
                return False
            raise
        mode = os.fstat(src).st_mode
        os.close(dst)
        if mode & stat.S_IXUSR:
            os.chmod(target, 0o755)
        return True
    finally:
        with contextlib.suppress(OSError):
            os.close(src)
