"""Tar.gz archives of one file or folder, shared by the SDK client and the server.

* :func:`pack` writes a reproducible ``tar.gz`` whose single top-level entry is the packed path's
  name. Entries are sorted and metadata (owner, times) is normalised, so the same tree always gives
  the same bytes.
* :func:`safe_extract` reads an archive from anywhere (an upload, a datastore) and refuses anything
  that could write outside its destination: absolute names, ``..``, links and device files. It does
  not rely on ``tarfile``'s extraction filters, which only became the default in Python 3.14.
* :func:`content_hash` names the content of a tree for content-addressed storage (with a
  :class:`ferry.hash_cache.TreeHashCache`, an unchanged tree is stat-ed instead of read).

A symlink inside a packed folder is followed when it points inside the folder (its target's
content is stored under the link's name) and refused when it points outside, since silently
shipping files from elsewhere on the machine is how secrets leak.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import stat
import tarfile
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ferry.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    UnsafePathError,
)
from ferry.hash_cache import TreeHashCache, TreeKeys, stat_keys

__all__ = ["ExtractLimits", "TreeEntry", "content_hash", "pack", "safe_extract", "walk_tree"]

_CHUNK = 1024 * 1024
# 1980-01-01: a fixed time keeps archives reproducible, and unlike 0 it is valid in zip files
# that users may later build from extracted trees.
_FIXED_MTIME = 315532800


@dataclass(frozen=True)
class TreeEntry:
    """One file or folder of a tree: its path below the top-level entry and where to read it."""

    rel: str
    """Posix path below the top-level entry; ``""`` for the top-level entry itself."""
    source: Path
    """The real path to read (symlinks inside the tree already resolved)."""
    is_dir: bool
    executable: bool = False


@dataclass(frozen=True)
class ExtractLimits:
    """How much an archive may unpack to, and the names of the settings that raise the caps.

    A few hundred kilobytes of gzip can hold gigabytes of zeros or a million empty files, so the
    compressed size of an upload says nothing about what it costs to unpack.
    """

    max_bytes: int | None = None
    """The largest total size of the files, uncompressed; ``None`` for no cap."""
    max_files: int | None = None
    """The most members (files and folders); ``None`` for no cap."""
    bytes_setting: str = "max_bytes"
    """What to raise when ``max_bytes`` refuses an archive (named in the error)."""
    files_setting: str = "max_files"
    """What to raise when ``max_files`` refuses an archive (named in the error)."""


def walk_tree(path: Path) -> list[TreeEntry]:
    """List ``path`` and everything below it, sorted by relative path.

    Raises:
        NotFoundError: ``path`` (or a symlink target inside it) does not exist.
        UnsafePathError: a symlink points outside ``path``.
        InvalidInputError: an entry is neither a file nor a folder (a fifo, socket, device).
    """
    if not path.exists() and not path.is_symlink():
        raise NotFoundError(f"'{path}' does not exist; check the path", details={"path": str(path)})
    root = Path(os.path.realpath(path))
    if not root.exists():
        raise NotFoundError(
            f"'{path}' is a broken symlink to '{path.readlink()}'; fix or remove it",
            details={"path": str(path)},
        )
    entries: list[TreeEntry] = []
    _walk(root, root, "", path, entries, frozenset())
    entries.sort(key=lambda e: e.rel)
    return entries


def _walk(
    real: Path, root: Path, rel: str, shown: Path, out: list[TreeEntry], stack: frozenset[Path]
) -> None:
    mode = real.stat().st_mode
    if stat.S_ISREG(mode):
        out.append(TreeEntry(rel, real, is_dir=False, executable=bool(mode & stat.S_IXUSR)))
        return
    if not stat.S_ISDIR(mode):
        raise InvalidInputError(
            f"'{shown}' is not a regular file or folder (a fifo, socket or device); remove it",
            details={"path": str(shown)},
        )
    if real in stack:
        raise UnsafePathError(
            f"the symlink '{shown}' loops back to its own parent folder '{real}'; remove the link",
            details={"path": str(shown)},
        )
    out.append(TreeEntry(rel, real, is_dir=True))
    for child_path in sorted(real.iterdir(), key=lambda p: p.name):
        child = child_path.name
        child_rel = f"{rel}/{child}" if rel else child
        child_shown = shown / child
        target = child_path
        if child_path.is_symlink():
            target = Path(os.path.realpath(child_path))
            if not target.is_relative_to(root):
                raise UnsafePathError(
                    f"the symlink '{child_shown}' points outside the folder, to '{target}'; "
                    "copy the file into the folder or remove the link",
                    details={"path": str(child_shown), "target": str(target)},
                )
            if not target.exists():
                raise NotFoundError(
                    f"the symlink '{child_shown}' points to '{target}', which does not exist; "
                    "fix or remove the link",
                    details={"path": str(child_shown), "target": str(target)},
                )
        _walk(target, root, child_rel, child_shown, out, stack | {real})


def pack(path: Path, out: BinaryIO, *, compresslevel: int = 9) -> None:
    """Write ``path`` (a file or a folder tree) to ``out`` as a reproducible tar.gz.

    The archive's single top-level entry is ``path.name``. Symlinks pointing inside the folder are
    stored as the content they point to.

    ``compresslevel`` is gzip's (9, the default, for stored assets; 1 where speed matters more).

    Raises:
        NotFoundError: ``path`` does not exist.
        UnsafePathError: a symlink inside the folder points outside it.
    """
    top = path.name or Path(os.path.realpath(path)).name
    entries = walk_tree(path)
    # GzipFile(mtime=0) keeps the gzip header free of the current time (reproducible bytes).
    with (
        gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=compresslevel) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for entry in entries:
            info = tarfile.TarInfo(f"{top}/{entry.rel}" if entry.rel else top)
            info.mtime = _FIXED_MTIME
            if entry.is_dir:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
                continue
            info.mode = 0o755 if entry.executable else 0o644
            with entry.source.open("rb") as fh:
                info.size = os.fstat(fh.fileno()).st_size
                tar.addfile(info, fh)


def safe_extract(
    archive: BinaryIO,
    dest: Path,
    *,
    max_bytes: int | None = None,
    limits: ExtractLimits | None = None,
) -> Path:
    """Extract a tar(.gz) stream into ``dest`` and return the path of its single top-level entry.

    Members are first written to a hidden folder inside ``dest`` and moved into place only when
    the whole archive passed every check, so a rejected archive leaves nothing behind. The stream
    is read once, front to back, so it need not be seekable.

    Args:
        archive: a binary stream of a tar archive, gzip-compressed or not.
        dest: the folder to extract into (created if missing).
        max_bytes: the largest total uncompressed file size accepted (short for
            ``limits=ExtractLimits(max_bytes=...)``).
        limits: caps on the unpacked size and member count; checked before each member is
            written, so a compression bomb is refused after at most the cap is on disk.

    Raises:
        UnsafePathError: an absolute name, a ``..`` component, a link, a device or fifo, or more
            than one top-level entry.
        PayloadTooLargeError: the files add up to more than the byte cap, or the archive has more
            members than the file cap; the message names the setting that raises it.
        InvalidInputError: the stream is not a tar archive, or it is empty.
        ConflictError: ``dest`` already holds an entry with the top-level name.
    """
    if limits is None:
        limits = ExtractLimits(max_bytes=max_bytes)
    dest.mkdir(parents=True, exist_ok=True)
    staging = dest / f".extract-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        top = _extract_members(archive, staging, limits)
        final = dest / top
        if final.exists() or final.is_symlink():
            raise ConflictError(
                f"'{final}' already exists; extract into an empty folder",
                details={"path": str(final)},
            )
        (staging / top).rename(final)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract_members(archive: BinaryIO, staging: Path, limits: ExtractLimits) -> str:
    top: str | None = None
    top_is_file = False
    seen: set[str] = set()
    total = 0
    max_bytes, max_files = limits.max_bytes, limits.max_files
    try:
        with tarfile.open(fileobj=archive, mode="r|*") as tar:
            for member in tar:
                if max_files is not None and len(seen) >= max_files:
                    raise PayloadTooLargeError(
                        f"the archive has more than {max_files} files and folders (at "
                        f"'{member.name}'); upload fewer, or raise {limits.files_setting}",
                        details={"member": member.name, "max_files": max_files},
                    )
                parts = _member_parts(member)
                name = "/".join(parts)
                _check_type(member)
                if top is None:
                    top, top_is_file = parts[0], member.isfile() and len(parts) == 1
                elif parts[0] != top or top_is_file:
                    raise UnsafePathError(
                        f"the archive has more than one top-level entry ('{top}' and "
                        f"'{member.name}'); pack a single file or folder",
                        details={"member": member.name},
                    )
                if name in seen:
                    raise UnsafePathError(
                        f"the archive member '{member.name}' appears twice; repack the archive",
                        details={"member": member.name},
                    )
                seen.add(name)
                target = staging.joinpath(*parts)
                if member.isdir():
                    _make_dirs(target, member)
                    continue
                _make_dirs(target.parent, member)
                total += member.size
                if max_bytes is not None and total > max_bytes:
                    raise PayloadTooLargeError(
                        f"the archive unpacks to more than {max_bytes} bytes (at '{member.name}'); "
                        f"upload less, or raise {limits.bytes_setting}",
                        details={"member": member.name, "max_bytes": max_bytes},
                    )
                _write_member(tar, member, target)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InvalidInputError(
            f"the upload is not a valid tar.gz archive ({exc}); create it with ferry.archive.pack"
        ) from exc
    if top is None:
        raise InvalidInputError("the archive is empty; pack a file or folder into it")
    return top


def _member_parts(member: tarfile.TarInfo) -> list[str]:
    raw = member.name
    # Backslashes and drive letters are path syntax on Windows, where archives may be unpacked.
    drive = len(raw) > 1 and raw[0].isalpha() and raw[1] == ":" and raw[2:3] in ("", "/", "\\")
    if raw.startswith(("/", "\\")) or drive:
        raise UnsafePathError(
            f"the archive member '{raw}' has an absolute path; archive relative paths only",
            details={"member": raw},
        )
    parts = [p for p in raw.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafePathError(
            f"the archive member '{raw}' has a '..' component that could escape the destination; "
            "archive relative paths inside one folder",
            details={"member": raw},
        )
    if not parts:
        raise UnsafePathError(
            f"the archive member '{raw}' has no name; repack the archive", details={"member": raw}
        )
    return parts


def _check_type(member: tarfile.TarInfo) -> None:
    if member.issym() or member.islnk():
        kind = "symlink" if member.issym() else "hard link"
        raise UnsafePathError(
            f"the archive member '{member.name}' is a {kind} (to '{member.linkname}'); links are "
            "not allowed, store the file itself",
            details={"member": member.name, "target": member.linkname},
        )
    if member.ischr() or member.isblk() or member.isfifo():
        raise UnsafePathError(
            f"the archive member '{member.name}' is a device or fifo; archive files and folders "
            "only",
            details={"member": member.name},
        )
    if not (member.isfile() or member.isdir()):
        raise UnsafePathError(
            f"the archive member '{member.name}' has an unsupported type; archive files and "
            "folders only",
            details={"member": member.name},
        )


def _make_dirs(folder: Path, member: tarfile.TarInfo) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise InvalidInputError(
            f"the archive member '{member.name}' is inside an earlier member that is a file; "
            "repack the archive",
            details={"member": member.name},
        ) from exc


def _write_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    source = tar.extractfile(member)
    if source is None:  # pragma: no cover - isfile() members always have data
        raise InvalidInputError(f"the archive member '{member.name}' has no data; repack it")
    # O_EXCL: never write through something already at the target.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as fh:
        shutil.copyfileobj(source, fh, _CHUNK)
    # Keep only the owner's execute bit: no setuid, sticky or group/world-writable files.
    if member.mode & stat.S_IXUSR:
        target.chmod(0o755)


def content_hash(path: Path, *, cache: TreeHashCache | None = None) -> str:
    """Return ``"sha256:<hex>"`` naming the content of a file or folder tree.

    The hash covers each entry's path *below* the top-level entry (posix form, sorted, so the
    filesystem's listing order does not matter), whether it is a file or a folder, and file bytes.
    The top-level name itself is left out: renaming a folder or file keeps its hash, which is what
    content-addressed storage wants. Empty folders count, as :func:`pack` keeps them; permissions
    and times do not.

    ``cache``: where an unchanged tree's digest is remembered, so that hashing it again stats each
    file instead of reading it (:mod:`ferry.hash_cache`); the result is the same either way.

    Raises:
        NotFoundError: ``path`` does not exist.
        UnsafePathError: a symlink inside the folder points outside it.
    """
    entries = walk_tree(path)
    root = os.path.realpath(path)
    if cache is not None and cache.known(root):
        listed = ((e.rel, None if e.is_dir else str(e.source)) for e in entries)
        found = cache.lookup(root, stat_keys(listed))
        if found is not None:
            return found
    keys = TreeKeys() if cache is not None else None
    digest = hashlib.sha256()
    for entry in entries:
        # Length-prefixed records keep the encoding unambiguous ("a" + "bc" != "ab" + "c").
        rel = entry.rel.encode("utf-8")
        kind = b"D" if entry.is_dir else b"F"
        digest.update(kind + len(rel).to_bytes(8, "big") + rel)
        if entry.is_dir:
            if keys is not None:
                keys.add_dir(entry.rel)
            continue
        with entry.source.open("rb") as fh:
            st = os.fstat(fh.fileno())
            if keys is not None:
                keys.add_file(entry.rel, st)
            digest.update(st.st_size.to_bytes(8, "big"))
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    result = f"sha256:{digest.hexdigest()}"
    if cache is not None and keys is not None:
        cache.store(root, keys, result)
    return result
