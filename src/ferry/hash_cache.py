"""A tree's content hash remembered with every file's stat, so an unchanged tree is not re-read.

:func:`ferry.archive.content_hash` is one SHA-256 stream over every entry's name and every file's
bytes. That format is an identity already stored (asset versions compare it when a version is
created again), so per-file digests cannot be folded into it without changing every hash. The
cache therefore remembers, per root folder, the whole tree's digest together with the stat key of
each file it read: size, ``mtime_ns``, ``ctime_ns``, inode and device, in entry order, and a
digest of the entries' names. A later hash of the same root stats each file (no open, no read);
only when every name and every key is the same is the remembered digest returned. Any difference
means the whole tree is read again, as without a cache.

Safety, since a wrong digest would stage the wrong data:

* ``ctime`` is in the key because it cannot be set from user space: a file rewritten with the
  same size and its ``mtime`` put back with ``os.utime`` still gets a new ``ctime``.
* **Racy entries** (git's "racily clean" index entries): a file changed twice within one tick of
  its filesystem's clock keeps its ``mtime``. A tree is remembered only when each file's ``mtime``
  and ``ctime`` are older than the moment the hash began, less :data:`RACY_MARGIN_NS` (coarser than
  any common timestamp granularity, 2 s on FAT); a file changed after the hash began therefore
  gets a timestamp its remembered key cannot have.
* **Hard links made by staging** change each source file's ``ctime`` (its link count changed).
  The stager records when it linked; a file whose key differs only by a ``ctime`` inside that
  window is taken as unchanged. Linking shares the inode with the staged copy, so such a file's
  content is the staged content whatever happened in that window.
* A record is one file, written to a temporary name and renamed; it ends with a SHA-256 of
  everything before it. A truncated, corrupt, foreign (another owner, or writable by others) or
  unknown-format record is ignored and later replaced; it never fails a hash.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import stat
import struct
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RACY_MARGIN_NS", "TreeHashCache", "TreeKeys", "file_key", "stat_keys"]

RACY_MARGIN_NS = 3_000_000_000
"""How much older than the hash's start a file's ``mtime`` and ``ctime`` must be to be trusted."""
_CLOCK_SLACK_NS = 3_000_000_000
"""How far a link's ``ctime`` (the kernel's coarse clock) may lie outside the recorded window."""

_MAGIC = b"FERRYTH1"
# started_ns, linked_from_ns, linked_to_ns, file count, root length; then names digest, tree digest.
_HEADER = struct.Struct("<8sqqqQI32s32s")
_KEY = struct.Struct("<QqqQQ")  # size, mtime_ns, ctime_ns, inode, device
_CHECK = 32  # the trailing SHA-256
_PREFIX = "sha256:"


class TreeKeys:
    """The names and file stat keys of one tree, in entry order, as a hash reads it.

    Read :attr:`names_digest` and :attr:`blob` after the last entry is added.
    """

    def __init__(self) -> None:
        # Taken before the first file is looked at: what the racy check measures against.
        self.started_ns = time.time_ns()
        self._names: list[bytes] = []
        self._keys: list[bytes] = []
        self._newest = 0

    def add_dir(self, rel: str) -> None:
        self._names.append(_name_record(b"D", rel))

    def add_file(self, rel: str, st: os.stat_result) -> None:
        """``st``: the file's stat, taken on the descriptor that is read where there is one."""
        self._names.append(_name_record(b"F", rel))
        self._keys.append(file_key(st))
        self._newest = max(self._newest, st.st_mtime_ns, st.st_ctime_ns)

    def add_name_records(self, records: list[bytes]) -> None:
        """Entries' name records, each ``kind + 8-byte length + utf-8 name`` (``D`` or ``F``), as
        :func:`ferry.archive.content_hash` writes them; with :meth:`add_file_keys`, for loops
        that build those records anyway."""
        self._names.extend(records)

    def add_file_keys(self, keys: list[bytes], newest_ns: int) -> None:
        """Files' :func:`file_key` values, in entry order, and the newest mtime or ctime among
        them."""
        self._keys.extend(keys)
        self._newest = max(self._newest, newest_ns)

    @functools.cached_property
    def names_digest(self) -> bytes:
        return hashlib.sha256(b"".join(self._names)).digest()

    @functools.cached_property
    def blob(self) -> bytes:
        return b"".join(self._keys)

    @property
    def count(self) -> int:
        return len(self._keys)

    @property
    def racy(self) -> bool:
        """Whether some file changed too recently for its key to tell a later change apart."""
        return self._newest >= self.started_ns - RACY_MARGIN_NS


def file_key(st: os.stat_result) -> bytes:
    """What identifies a file's content without reading it: size, mtime, ctime, inode, device."""
    return _KEY.pack(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def _name_record(kind: bytes, rel: str) -> bytes:
    name = rel.encode("utf-8", "surrogateescape")
    return kind + len(name).to_bytes(8, "big") + name


def stat_keys(entries: Iterable[tuple[str, str | None]]) -> TreeKeys:
    """The keys of a listed tree by ``stat`` alone: ``(rel, source)`` pairs, ``None`` for a folder.

    ``source`` is the path to read (symlinks followed), as the hash would open it.
    """
    keys = TreeKeys()
    # One loop with locals, not add_file per entry: this is all a cached hash of 1M files costs
    # besides the syscalls, and method calls doubled it (11 s against 6 s of os.stat at load 5).
    names, packed, pack, newest = keys._names, keys._keys, _KEY.pack, 0
    for rel, source in entries:
        name = rel.encode("utf-8", "surrogateescape")
        if source is None:
            names.append(b"D" + len(name).to_bytes(8, "big") + name)
            continue
        names.append(b"F" + len(name).to_bytes(8, "big") + name)
        # os.stat on a str: a Path per file costs microseconds, and a tree may hold 1M files.
        st = os.stat(source)  # noqa: PTH116
        mtime, ctime = st.st_mtime_ns, st.st_ctime_ns
        packed.append(pack(st.st_size, mtime, ctime, st.st_ino, st.st_dev))
        newest = max(newest, mtime, ctime)
    keys._newest = newest
    return keys


@dataclass(frozen=True)
class _Record:
    started_ns: int
    linked: tuple[int, int]
    names: bytes
    digest: str
    blob: bytes


class TreeHashCache:
    """Remembered tree digests, one record file per root folder, in ``folder`` (made 0700)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, root: str) -> Path:
        name = hashlib.sha256(root.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        return self.folder / f"{name}.tree"

    def known(self, root: str) -> bool:
        """Whether ``root`` has a record, so that a stat pass may pay off."""
        return self._path(root).is_file()

    def lookup(self, root: str, keys: TreeKeys) -> str | None:
        """The remembered digest of ``root`` if ``keys`` show it unchanged, else ``None``."""
        record = self._load(root)
        if record is None or record.names != keys.names_digest:
            return None
        blob = keys.blob
        if blob == record.blob:
            return record.digest
        if record.linked == (0, 0) or not _only_linked(record.blob, blob, record.linked):
            return None
        # Unchanged but for our own links: remember the new ctimes, so the next lookup is exact.
        self.store(root, keys, record.digest)
        return record.digest

    def store(
        self, root: str, keys: TreeKeys, digest: str, *, linked: tuple[int, int] | None = None
    ) -> bool:
        """Remember ``digest`` for ``root`` read with ``keys``; ``False`` when not trusted (racy).

        ``linked``: when the caller hard-linked the files after reading them (``time_ns`` before
        and after), so that the ``ctime`` those links gave is recognised.
        """
        if keys.racy or not digest.startswith(_PREFIX):
            return False
        raw = bytes.fromhex(digest.removeprefix(_PREFIX))
        root_bytes = root.encode("utf-8", "surrogateescape")
        lo, hi = linked or (0, 0)
        header = _HEADER.pack(
            _MAGIC, keys.started_ns, lo, hi, keys.count, len(root_bytes), keys.names_digest, raw
        )
        body = header + root_bytes + keys.blob
        path = self._path(root)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
                fh.write(hashlib.sha256(body).digest())
            tmp.replace(path)
        except OSError:
            # A cache that cannot be written (full disk, read-only) costs speed, never a hash.
            with contextlib.suppress(OSError):
                tmp.unlink()
            return False
        return True

    def _load(self, root: str) -> _Record | None:
        try:
            fd = os.open(self._path(root), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            # Only this user's own records: anyone able to write one could name any content.
            if st.st_uid != os.getuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return None
            data = fh.read()
        return _parse(data, root)


def _parse(data: bytes, root: str) -> _Record | None:
    if len(data) < _HEADER.size + _CHECK:
        return None
    body, check = data[:-_CHECK], data[-_CHECK:]
    if hashlib.sha256(body).digest() != check:
        return None
    magic, started, lo, hi, count, root_len, names, raw = _HEADER.unpack_from(body)
    keys_at = _HEADER.size + root_len
    if magic != _MAGIC or len(body) != keys_at + count * _KEY.size:
        return None
    if body[_HEADER.size : keys_at] != root.encode("utf-8", "surrogateescape"):
        return None
    return _Record(started, (lo, hi), names, _PREFIX + raw.hex(), body[keys_at:])


def _only_linked(old: bytes, new: bytes, linked: tuple[int, int]) -> bool:
    """Whether each key in ``new`` equals ``old``'s or differs only by a ``ctime`` in ``linked``."""
    if len(old) != len(new):
        return False
    lo, hi = linked[0] - _CLOCK_SLACK_NS, linked[1] + _CLOCK_SLACK_NS
    for was, now in zip(_KEY.iter_unpack(old), _KEY.iter_unpack(new), strict=True):
        if was == now:
            continue
        if was[:2] != now[:2] or was[3:] != now[3:] or not lo <= now[2] <= hi:
            return False
    return True
