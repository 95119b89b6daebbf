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

import json
import os
import stat
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ferry.batch.definition import JobDefinition
from ferry.errors import InvalidInputError

__all__ = ["Plan", "PlanError", "create_plan", "open_plan"]

_ITEMS, _INDEX, _META = "items.bin", "index.bin", "plan.json"


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


def _walk(root: bytes) -> Iterator[bytes]:
    """Regular files under ``root``, depth-first, names sorted; symlinked folders are followed
    once (a link back up the tree is skipped, not looped on)."""
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[bytes, Iterator[bytes], set[bytes]]] = []

    # Bytes paths throughout (pathlib has none): names that are not UTF-8 stay exact.
    def enter(folder: bytes) -> None:
        st = os.stat(folder)  # noqa: PTH116
        if (st.st_dev, st.st_ino) in seen:
            return
        seen.add((st.st_dev, st.st_ino))
        names: list[bytes] = []
        folders: set[bytes] = set()
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    is_dir, is_file = entry.is_dir(), entry.is_file()
                except OSError:
                    continue
                if is_dir:
                    folders.add(entry.name)
                if is_dir or is_file:  # sockets, fifos and broken links are not inputs
                    names.append(entry.name)
        names.sort()
        stack.append((folder, iter(names), folders))

    enter(root)
    while stack:
        folder, names, folders = stack[-1]
        name = next(names, None)
        if name is None:
            stack.pop()
            continue
        path = os.path.join(folder, name)  # noqa: PTH118
        if name in folders:
            enter(path)
        else:
            yield path


def _list_input(raw: str, input_type: str) -> Iterator[bytes]:
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
        yield path


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

    def _raw(self, start: int, end: int) -> list[bytes]:
        if self._fd < 0:
            self._fd = os.open(self.folder / _ITEMS, os.O_RDONLY)
        data = os.pread(self._fd, end - start, start)
        return [_unescape(line) for line in data.split(b"\n")[:-1]]

    def close(self) -> None:
        """Release the items file (reopened if the plan is used again)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def mini_batch(self, mb: int) -> list[str]:
        """The absolute paths of mini-batch ``mb``, as ``str`` (``os.fsdecode``)."""
        return [os.fsdecode(p) for p in self._raw(self.offsets[mb], self.offsets[mb + 1])]

    def iter_items(self) -> Iterator[tuple[int, str]]:
        """``(mini_batch, path)`` for every item in input order, streamed from disk."""
        mb_size = self.mini_batch_size
        with (self.folder / _ITEMS).open("rb") as f:
            for n, line in enumerate(f):
                yield n // mb_size, os.fsdecode(_unescape(line[:-1]))


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
        for raw in definition.inputs:
            for path in _list_input(raw, definition.input_type):
                line = _escape(path) + b"\n"
                out.write(line)
                offset += len(line)
                count += 1
                if count % size == 0:
                    offsets.append(offset)
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
