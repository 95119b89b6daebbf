"""Durability off the dispatch thread: the periodic ``fdatasync`` of rows and journal.

``fdatasync`` usually takes a few milliseconds here, but now and then more than 100 ms (seen:
118 and 174 ms in 10k-item jobs, bench/batch/README.md). On the dispatch thread that stalls every
hand-over behind it, and workers whose queue runs dry sit idle; with Azure's default of 10 files
per mini-batch even the usual 5 ms shows. :class:`Syncer` runs the sync in a thread of its own
instead (``fdatasync`` releases the GIL). What the periodic sync promises does not change: what
was journaled reaches the disk within about one period, rows before the journal that points at
them (:meth:`ferry.batch.scheduler.Scheduler.sync`); the job's end still syncs on the spot.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Syncer"]


class Syncer:
    """Runs ``sync`` in a background thread whenever asked; asks made meanwhile coalesce."""

    def __init__(self, sync: Callable[[], None], name: str = "ferry-sync") -> None:
        self._sync = sync
        self._wanted = threading.Event()
        self._stopping = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def request(self) -> None:
        """Ask for a sync without waiting for it.

        Raises:
            OSError: an earlier sync failed (a full or broken disk); the job cannot go on safely.
        """
        self._raise()
        self._wanted.set()

    def close(self, *, check: bool = True) -> None:
        """Let the sync in progress finish, then stop the thread.

        Args:
            check: raise the error of a failed sync (off when another error is on its way).
        """
        self._stopping = True
        self._wanted.set()
        self._thread.join()
        if check:
            self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _loop(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stopping:
                return
            try:
                self._sync()
            except BaseException as exc:  # kept for the dispatch thread, which decides
                self._error = exc
                return
