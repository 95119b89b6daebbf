"""Exactly-once ``append_row`` output: rows appended to one data file, assembled in input order.

Each mini-batch's rows are appended to ``state/rows.dat`` and only then is its verdict journaled
with *where* they are (``at`` offset, ``bytes`` length). The journal decides what counts: if the
engine dies between the two writes, the orphaned bytes are never referenced and the mini-batch
runs again (its new rows are appended elsewhere); a verdict already journaled is never applied
twice. The final output file is built from the journaled regions of settled mini-batches in
input order, through a temporary file and a rename, so it holds every row exactly once even if a
mini-batch ran twice. One append per mini-batch keeps the dispatcher's cost per result at a
single ``write(2)`` (a file per mini-batch costs an open, a rename and a directory entry).

:meth:`RowStore.sync` runs *before* the journal's sync, so a journaled region is durable no later
than the event naming it; :meth:`RowStore.missing` still finds regions past the end of the file
(lost in a machine crash) so they run again.
"""

from __future__ import annotations

import os
from pathlib import Path

from ferry.batch.ledger import PARTIAL, SUCCEEDED, Ledger

__all__ = ["RowStore"]

_COPY = 1 << 20


class RowStore:
    """The append-only rows file of one job (``state/rows.dat``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        # Appends go after whatever is there, torn bytes of a crash included: those are unused.
        self._end = os.fstat(self._fd).st_size
        self._dirty = False

    def append(self, data: bytes) -> int:
        """Append one mini-batch's rows; returns their offset (to journal with their length)."""
        offset = self._end
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self._end += len(data)
        self._dirty = bool(data) or self._dirty
        return offset

    def sync(self) -> None:
        """``fdatasync`` the rows written since the last sync (call before the journal's)."""
        if self._dirty:
            self._dirty = False  # first: an append made meanwhile needs the next sync
            os.fdatasync(self._fd)

    def missing(self, ledger: Ledger) -> list[int]:
        """Settled mini-batches whose rows lie past the end of the file: lost in a machine crash
        before they reached the disk; they must run again."""
        return [
            mb
            for mb in range(ledger.total)
            if ledger.status[mb] in (SUCCEEDED, PARTIAL)
            and ledger.offset[mb] + ledger.nbytes[mb] > self._end
        ]

    def assemble(self, ledger: Ledger, dest: Path) -> int:
        """Write ``dest`` from the settled mini-batches' rows in input order; returns its size."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        total = 0
        with tmp.open("wb") as out:
            for mb in range(ledger.total):
                if ledger.status[mb] not in (SUCCEEDED, PARTIAL):
                    continue
                offset, size = ledger.offset[mb], ledger.nbytes[mb]
                while size:
                    chunk = os.pread(self._fd, min(size, _COPY), offset)
                    if not chunk:
                        raise OSError(f"{self.path} ends before the rows of mini-batch {mb}")
                    out.write(chunk)
                    offset += len(chunk)
                    size -= len(chunk)
                total += ledger.nbytes[mb]
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(dest)
        return total

    def close(self) -> None:
        if self._fd >= 0:
            self.sync()
            os.close(self._fd)
            self._fd = -1
