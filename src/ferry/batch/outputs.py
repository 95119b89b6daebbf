"""Exactly-once ``append_row`` output: one committed row file per mini-batch, assembled in order.

A mini-batch's rows are written to a temporary file and renamed into place (atomic), and only
then is its ``ok`` event journaled with the file's size. If the engine dies between the two, the
mini-batch runs again and its file is simply replaced; a verdict already in the journal is never
applied twice. The final output file is built from the files of settled mini-batches in input
order, again through a temporary file and a rename, so it holds every row exactly once even if a
mini-batch ran twice. Row files are sharded (1000 per folder) to keep folders small.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from ferry.batch.ledger import PARTIAL, SUCCEEDED, Ledger

__all__ = ["RowStore"]

_SHARD = 1000


def encode_rows(lines: Sequence[str]) -> bytes:
    """The bytes of one mini-batch's rows: one line each, newline-terminated.

    ``surrogateescape`` writes back the original bytes of names that were not UTF-8.
    """
    if not lines:
        return b""
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")


class RowStore:
    """Row files of one job, under ``state/rows/``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._shards: set[int] = set()

    def path(self, mb: int) -> Path:
        return self.folder / f"{mb // _SHARD:04d}" / f"{mb:07d}.txt"

    def write(self, mb: int, data: bytes) -> int:
        """Commit mini-batch ``mb``'s rows atomically; returns the size to journal."""
        shard = mb // _SHARD
        path = self.path(mb)
        if shard not in self._shards:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._shards.add(shard)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        tmp.replace(path)
        return len(data)

    def missing(self, ledger: Ledger) -> list[int]:
        """Settled mini-batches whose committed row file is gone or has the wrong size
        (a machine crash before the data reached the disk); they must run again."""
        lost: list[int] = []
        for mb in range(ledger.total):
            if ledger.status[mb] not in (SUCCEEDED, PARTIAL) or ledger.nbytes[mb] == 0:
                continue
            try:
                size = self.path(mb).stat().st_size
            except FileNotFoundError:
                size = -1
            if size != ledger.nbytes[mb]:
                lost.append(mb)
        return lost

    def assemble(self, ledger: Ledger, dest: Path) -> int:
        """Write ``dest`` from the settled mini-batches' rows in input order; returns its size.

        Raises:
            OSError: a row file cannot be read (call :meth:`missing` first to redo lost ones).
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        total = 0
        with tmp.open("wb") as out:
            for mb in range(ledger.total):
                if ledger.status[mb] not in (SUCCEEDED, PARTIAL) or ledger.nbytes[mb] == 0:
                    continue
                with self.path(mb).open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                total += ledger.nbytes[mb]
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(dest)
        return total
