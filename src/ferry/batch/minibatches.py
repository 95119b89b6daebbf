"""Inputs -> ordered mini-batches, stored once in the job folder and reused on resume.

The plan is three files under ``state/plan/``:

* ``items.bin``: one absolute path per line, as the raw bytes the file system gave
  (``\\`` and newline escaped), so names that are not UTF-8 survive unchanged;
* ``index.bin``: ``M + 1`` unsigned 64-bit byte offsets into ``items.bin``, where mini-batch ``i``
  spans ``[offset[i], offset[i + 1])``;
* ``plan.json``: counts and settings, written last: a plan without it is incomplete and redone.

Folders are listed depth-first with each folder's names sorted bytewise, streaming: memory holds
only the sorted names of the folders on the current path, never one object per planned item.
A script receives ``os.fsdecode(path)``: the same ``str`` that ``os.listdir`` gives.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from ferry.batch.definition import JobDefinition
from ferry.errors import InvalidInputError

__all__ = ["Plan", "PlanError", "create_plan", "open_plan"]

_ITEMS, _INDEX, _META = "items.bin", "index.bin", "plan.json"
_FS_ENCODING, _FS_ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()


class PlanError(InvalidInputError):
    """The job's inputs cannot be listed: a missing path, or a folder where a file is expected."""


def _escape(path: bytes) -> bytes:
    if b"\\" in path or b"\n" in path:
        path = path.replace(b"\\", b"\\\\").replace(b"\n", b"\\n")
    return path


def _unescape(line: bytes) -> bytes:
    if b"\\" not in line:
        return line
    out = bytearray()
    i = 0
    while i < len(line):
        c = line[i]
        if c == 0x5C and i + 1 < len(line):  # backslash
            out += b"\n" if line[i + 1] == 0x6E else line[i + 1 : i + 2]
            i += 2
        else:
            out.append(c)
            i += 1
    return bytes(out)


def _decode_lines(data: bytes) -> list[str]:
    """The ``os.fsdecode``d paths of whole lines of ``items.bin``."""
    if b"\\" in data:  # an escaped name somewhere: line by line
        return [os.fsdecode(_unescape(line)) for line in data.split(b"\n")[:-1]]
    # One decode for the lot: the same as fsdecode per line, since b"\n" never occurs inside
    # a multi-byte character of a POSIX file system encoding.
    return data.decode(_FS_ENCODING, _FS_ERRORS).split("\n")[:-1]


class _Folder:
    """A folder being listed: its sorted names, which of them are folders, and how far along."""

    __slots__ = ("cuts", "names", "path", "pos", "prefix")

    def __init__(self, path: bytes, names: list[bytes], folders: set[bytes]) -> None:
        self.path = path
        self.prefix = path if path.endswith(b"/") else path + b"/"  # "/" itself ends in one
        self.names = names
        #: Positions of the subfolders among the names, then the end; consumed from the back.
        self.cuts = [i for i, n in enumerate(names) if n in folders] if folders else []
        self.cuts.append(len(names))
        self.cuts.reverse()
        self.pos = 0


def _walk(root: bytes) -> Iterator[tuple[bytes, list[bytes]]]:
    """Regular files under ``root``, depth-first, names sorted, as runs ``(prefix, names)``: the
    files of one folder between two of its subfolders, each path being ``prefix + name``.
    Symlinked folders are followed once (a link back up the tree is skipped, not looped on).

    Runs, not paths: a million files cost a few thousand Python steps here, not a million.
    """
    seen: set[tuple[int, int]] = set()
    stack: list[_Folder] = []

    # Bytes paths throughout (pathlib has none): names that are not UTF-8 stay exact.
    def enter(folder: bytes) -> None:
        st = os.stat(folder)  # noqa: PTH116
        if (st.st_dev, st.st_ino) in seen:
            return
        seen.add((st.st_dev, st.st_ino))
        with os.scandir(folder) as it:
            entries = list(it)
        try:  # comprehensions: a million entries cost ~0.4 s less than a loop with a try each
            folders = {e.name for e in entries if e.is_dir()}
            names = [e.name for e in entries if e.name in folders or e.is_file()]
        except OSError:  # an entry that cannot be stat'ed (a symlink's target, say): skip it
            folders, names = set(), []
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_dir():
                        folders.add(entry.name)
                    elif not entry.is_file():
                        continue  # sockets, fifos and broken links are not inputs
                    names.append(entry.name)
        names.sort()
        stack.append(_Folder(folder, names, folders))

    enter(root)
    while stack:
        top = stack[-1]
        if top.pos >= len(top.names):
            stack.pop()
            continue
        cut = top.cuts.pop()
        if cut > top.pos:
            yield top.prefix, top.names[top.pos : cut]
        top.pos = cut + 1
        if cut < len(top.names):
            enter(top.prefix + top.names[cut])


def _list_input(raw: str, input_type: str) -> Iterator[tuple[bytes, list[bytes]]]:
    """The input's files as runs ``(prefix, names)`` (see :func:`_walk`)."""
    path = os.fsencode(os.path.abspath(raw))  # noqa: PTH100 (no symlink resolving)
    try:
        st = os.stat(path)  # noqa: PTH116
    except FileNotFoundError:
        raise PlanError(
            f"input {raw} does not exist; check the job's input path (it must exist on this "
            "machine when the job starts)",
            details={"field": "inputs", "path": raw},
        ) from None
    if stat.S_ISDIR(st.st_mode):
        if input_type == "uri_file":
            raise PlanError(
                f"input {raw} is a folder but the input type is uri_file; use type uri_folder",
                details={"field": "input_type", "path": raw},
            )
        yield from _walk(path)
    else:
        yield b"", [path]


def _read_listing(path: Path, run: int = 4096) -> Iterator[tuple[bytes, list[bytes]]]:
    """The items of a listing file (one per line) as runs ``(b"", names)``."""
    with path.open("rb") as f:
        names: list[bytes] = []
        for line in f:
            names.append(line.rstrip(b"\n"))
            if len(names) == run:
                yield b"", names
                names = []
        if names:
            yield b"", names


def _runs(definition: JobDefinition) -> Iterator[tuple[bytes, list[bytes]]]:
    """The job's items as runs: from its listing file, or by listing its input paths."""
    if definition.input_listing:
        yield from _read_listing(Path(definition.input_listing))
        return
    for raw in definition.inputs:
        yield from _list_input(raw, definition.input_type)


def _encode_run(prefix: bytes, names: list[bytes]) -> tuple[bytes, list[int], int]:
    """The ``items.bin`` lines of one run, as ``(data, ends, extra)``: line ``k`` ends at
    ``ends[k] + extra * (k + 1)`` in ``data`` (computed per item in C, not in Python)."""
    joined = b"\0".join(names)  # NUL never occurs in a file name
    if b"\\" in joined or b"\n" in joined or b"\\" in prefix or b"\n" in prefix:
        lines = [_escape(prefix + name) + b"\n" for name in names]
        return b"".join(lines), list(accumulate(map(len, lines))), 0
    data = prefix + joined.replace(b"\0", b"\n" + prefix) + b"\n"
    return data, list(accumulate(map(len, names))), len(prefix) + 1


@dataclass
class Plan:
    """A stored plan: the job's items cut into ordered mini-batches."""

    folder: Path
    items_total: int
    mini_batch_size: int
    offsets: array[int]
    _fd: int = -1  # items.bin, opened on first use and kept: one pread per mini-batch

    @property
    def mini_batches_total(self) -> int:
        return len(self.offsets) - 1

    def batch_len(self, mb: int) -> int:
        """How many items mini-batch ``mb`` holds."""
        return min(self.mini_batch_size, self.items_total - mb * self.mini_batch_size)

    def close(self) -> None:
        """Release the items file (reopened if the plan is used again)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def mini_batch(self, mb: int) -> list[str]:
        """The absolute paths of mini-batch ``mb``, as ``str`` (``os.fsdecode``)."""
        if self._fd < 0:
            self._fd = os.open(self.folder / _ITEMS, os.O_RDONLY)
        start = self.offsets[mb]
        return _decode_lines(os.pread(self._fd, self.offsets[mb + 1] - start, start))

    def iter_mini_batches(self) -> Iterator[tuple[int, list[str]]]:
        """``(mini_batch, paths)`` for every mini-batch in input order, streamed from disk."""
        with (self.folder / _ITEMS).open("rb", buffering=1 << 20) as f:
            for mb in range(self.mini_batches_total):
                yield mb, _decode_lines(f.read(self.offsets[mb + 1] - self.offsets[mb]))

    def iter_items(self) -> Iterator[tuple[int, str]]:
        """``(mini_batch, path)`` for every item in input order, streamed from disk."""
        for mb, paths in self.iter_mini_batches():
            for path in paths:
                yield mb, path


def open_plan(folder: Path) -> Plan | None:
    """The plan stored in ``folder``, or None when there is none (or it was never completed)."""
    try:
        meta = json.loads((folder / _META).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    offsets = array("Q")
    offsets.frombytes((folder / _INDEX).read_bytes())
    return Plan(folder, int(meta["items_total"]), int(meta["mini_batch_size"]), offsets)


def create_plan(definition: JobDefinition, folder: Path) -> Plan:
    """List the inputs and store the plan in ``folder`` (replacing an incomplete one).

    Raises:
        PlanError: an input is missing, or a folder was given for ``uri_file``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    size = definition.mini_batch_size
    if size < 1:
        raise PlanError(
            f"mini_batch_size must be at least 1, got {size}", details={"field": "mini_batch_size"}
        )
    offsets = array("Q", [0])
    count = offset = 0
    with (folder / _ITEMS).open("wb", buffering=1 << 20) as out:
        for prefix, names in _runs(definition):
            data, ends, extra = _encode_run(prefix, names)
            out.write(data)
            # Mini-batches that end inside this run: the first is the one its item
            # (-count - 1) % size completes, then one every `size` items.
            for k in range((-count - 1) % size, len(names), size):
                offsets.append(offset + ends[k] + extra * (k + 1))
            offset += len(data)
            count += len(names)
        if count % size:
            offsets.append(offset)
        out.flush()
        os.fsync(out.fileno())
    (folder / _INDEX).write_bytes(offsets.tobytes())
    meta = {
        "version": 1,
        "items_total": count,
        "mini_batches_total": len(offsets) - 1,
        "mini_batch_size": size,
        "inputs": definition.inputs,
        "input_type": definition.input_type,
    }
    tmp = folder / (_META + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    tmp.replace(folder / _META)
    return Plan(folder, count, size, offsets)
