"""The job's journal: an append-only JSONL file of events, the single source of truth on resume.

Every event is written with one ``write(2)`` on an ``O_APPEND`` descriptor *before* the engine acts
on it, so it survives a crash of the engine process (the page cache outlives the process).
:meth:`Journal.sync` (``fdatasync``) runs every few hundred milliseconds, in a thread of its own
(:mod:`.syncer`), and at the end, which bounds what a machine crash can lose; that is safe because
every event can be replayed or redone (row files are checked against the sizes the journal
recorded, see :mod:`ferry.batch.outputs`).

A crash can leave a torn last line; :func:`open_journal` drops it before appending.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["Journal", "open_journal", "read_events"]


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """The journal's events in order; a torn or unreadable last line is skipped."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return
    with f:
        for line in f:
            if not line.endswith(b"\n"):
                return  # torn by a crash mid-write: never acted on
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                yield event


def _drop_torn_tail(path: Path) -> None:
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb+") as f:
        f.seek(max(0, size - 65536))
        tail = f.read()
        if tail.endswith(b"\n"):
            return
        cut = tail.rfind(b"\n")
        f.truncate(size - len(tail) + cut + 1 if cut >= 0 else max(0, size - len(tail)))


class Journal:
    """An open journal; append events, sync now and then, close at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._dirty = False

    def append(self, event: dict[str, Any]) -> None:
        """Write one event; it reaches the kernel before this returns."""
        # ensure_ascii keeps file names that are not UTF-8 (lone surrogates) writable.
        line = json.dumps(event, separators=(",", ":")) + "\n"
        data = memoryview(line.encode("ascii"))
        while data:
            data = data[os.write(self._fd, data) :]
        self._dirty = True

    def sync(self) -> None:
        """Flush to stable storage (``fdatasync``) if anything was written since the last sync."""
        if self._dirty:
            # Cleared first: an append made while the sync runs (from another thread, see
            # ferry.batch.syncer) marks the journal dirty again for the next one.
            self._dirty = False
            os.fdatasync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            self.sync()
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_journal(path: Path) -> Journal:
    """Open (or create) the journal at ``path`` for appending, after dropping a torn last line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        _drop_torn_tail(path)
    return Journal(path)
