"""The state of every mini-batch, rebuilt from journal events (and kept current while running).

One :class:`Ledger` holds compact arrays, not one Python object per mini-batch, so a job of a
million files stays small in memory. Events are plain dicts (see :func:`apply`'s table); applying
the same settling event twice is a no-op, which is what makes replay after a crash exact.

Journal events::

    session {n, t}                          an engine run began
    worker  {w, pid?, state, kind?, ...}    started | ready | init_failed | lost | stopped;
                                            init_failed and lost say their FailureKind
    start   {mb, try, w}                    handed to a worker (no verdict yet = still pending)
    ok      {mb, try, n, at, bytes, s, w, out?}
                                            rows appended at offset ``at``; n items succeeded;
                                            ``out``: files it wrote in the output folder
    fail    {mb, try, kind, final, error, n?, at?, bytes?, s?, w}
                                            kind: script_error | worker_crashed | timeout |
                                            too_few_rows; a final too_few_rows keeps its n rows
    lost    {mb}                            its rows were lost (machine crash): redo it
    reset   {}                              resume: failed mini-batches are pending again
    end     {state, message, kind?}         the job reached a terminal state (a failed one
                                            says its FailureKind)
"""

from __future__ import annotations

import contextlib
from array import array
from collections.abc import Callable
from typing import Any

from ferry.specs.states import FailureKind, WorkerState

__all__ = [
    "FAILED",
    "PARTIAL",
    "PENDING",
    "STATUS_NAMES",
    "SUCCEEDED",
    "Ledger",
    "overwrite_warning",
]

PENDING, SUCCEEDED, FAILED, PARTIAL = 0, 1, 2, 3
_WORKER_ENDED = frozenset({WorkerState.LOST, WorkerState.INIT_FAILED, WorkerState.STOPPED})
STATUS_NAMES = ("pending", "succeeded", "failed", "partial")


class Ledger:
    """Per-mini-batch status, attempts, item counts, row-file sizes and last errors."""

    def __init__(self, mini_batches: int, batch_len: Callable[[int], int]) -> None:
        self.total = mini_batches
        self.batch_len = batch_len
        self.status = bytearray(mini_batches)
        self.attempts = array("I", bytes(4 * mini_batches))
        self.succeeded = array("I", bytes(4 * mini_batches))
        self.offset = array("Q", bytes(8 * mini_batches))  # where its rows are in rows.dat
        self.nbytes = array("Q", bytes(8 * mini_batches))
        self.seconds = array("d", bytes(8 * mini_batches))
        self.worker = array("I", bytes(4 * mini_batches))  # index into worker_names, 0 = none
        self.worker_names: list[str] = [""]
        self._worker_index: dict[str, int] = {}
        #: Last error of each mini-batch that failed at least once (kind, type, message, ...).
        self.errors: dict[int, dict[str, Any]] = {}
        #: The kind of the latest failed attempt (what tipped a job over its error_threshold).
        self.last_failure: FailureKind | None = None
        self.items_succeeded = 0
        self.items_failed = 0
        self.mini_batches_done = 0
        self.mini_batches_failed = 0
        self.sessions = 0
        self.workers_started = 0
        #: Workers started and not known to be gone: ``{worker_id: pid}`` (to kill orphans).
        self.workers_unended: dict[str, int | None] = {}
        self.end: dict[str, Any] | None = None
        #: Output files (relative to the output folder) and the mini-batch that wrote each first.
        self.written: dict[str, int] = {}
        #: ``(file, first mini-batch, later mini-batch)``: a later one replaced the file.
        self.overwrites: list[tuple[str, int, int]] = []

    # -- queries -----------------------------------------------------------------------------
    def pending(self) -> list[int]:
        """Mini-batches without a final verdict, in input order."""
        return [mb for mb in range(self.total) if self.status[mb] == PENDING]

    def worker_of(self, mb: int) -> str:
        return self.worker_names[self.worker[mb]]

    def next_attempt(self, mb: int) -> int:
        return self.attempts[mb] + 1

    # -- events ------------------------------------------------------------------------------
    def apply(self, event: dict[str, Any]) -> None:
        """Apply one journal event; unknown kinds are ignored (newer engines may add some)."""
        kind = event.get("ev")
        if kind == "ok":
            if self.status[int(event["mb"])] == PENDING:
                self._note_outputs(int(event["mb"]), event.get("out") or ())
            self._settle(event, SUCCEEDED, int(event.get("n", 0)))
        elif kind == "fail":
            mb = int(event["mb"])
            if self.status[mb] != PENDING:
                return
            self.attempts[mb] = max(self.attempts[mb], int(event.get("try", 1)))
            self.errors[mb] = {"kind": event.get("kind"), **(event.get("error") or {})}
            with contextlib.suppress(ValueError):  # a kind from a newer engine
                self.last_failure = FailureKind(event.get("kind"))
            if event.get("final"):
                partial = event.get("kind") == FailureKind.TOO_FEW_ROWS
                self._settle(event, PARTIAL if partial else FAILED, int(event.get("n", 0)))
        elif kind == "lost":
            self._unsettle(int(event["mb"]), keep_attempts=True)
        elif kind == "reset":
            for mb in range(self.total):
                if self.status[mb] in (FAILED, PARTIAL):
                    self._unsettle(mb, keep_attempts=False)
            self.end = None
        elif kind == "session":
            self.sessions += 1
        elif kind == "worker":
            worker = str(event.get("w"))
            if event.get("state") == WorkerState.STARTED:
                self.workers_started += 1
                self.workers_unended[worker] = event.get("pid")
            elif event.get("state") in _WORKER_ENDED:
                self.workers_unended.pop(worker, None)
        elif kind == "end":
            self.end = event

    def _note_outputs(self, mb: int, names: Any) -> None:
        for name in names:
            first = self.written.setdefault(str(name), mb)
            if first != mb:
                self.overwrites.append((str(name), first, mb))
                self.written[str(name)] = mb  # the next writer replaces this one's file

    def _worker_id(self, name: str | None) -> int:
        if not name:
            return 0
        index = self._worker_index.get(name)
        if index is None:
            index = self._worker_index[name] = len(self.worker_names)
            self.worker_names.append(name)
        return index

    def _settle(self, event: dict[str, Any], status: int, n: int) -> None:
        mb = int(event["mb"])
        if self.status[mb] != PENDING:
            return  # a duplicate verdict (replayed or redone): the first one stands
        size = self.batch_len(mb)
        ok = min(max(n, 0), size)
        self.status[mb] = status
        self.attempts[mb] = max(self.attempts[mb], int(event.get("try", 1)))
        self.succeeded[mb] = ok
        self.offset[mb] = int(event.get("at", 0))
        self.nbytes[mb] = int(event.get("bytes", 0))
        self.seconds[mb] = float(event.get("s", 0.0))
        self.worker[mb] = self._worker_id(event.get("w"))
        self.items_succeeded += ok
        self.items_failed += size - ok
        self.mini_batches_done += 1
        if status != SUCCEEDED:
            self.mini_batches_failed += 1
        else:
            self.errors.pop(mb, None)

    def _unsettle(self, mb: int, *, keep_attempts: bool) -> None:
        status = self.status[mb]
        if status == PENDING:
            return
        ok = self.succeeded[mb]
        self.items_succeeded -= ok
        self.items_failed -= self.batch_len(mb) - ok
        self.mini_batches_done -= 1
        if status != SUCCEEDED:
            self.mini_batches_failed -= 1
        self.status[mb] = PENDING
        self.succeeded[mb] = 0
        self.nbytes[mb] = 0
        if not keep_attempts:
            self.attempts[mb] = 0
            self.errors.pop(mb, None)


def overwrite_warning(name: str, first: int, second: int) -> str:
    """The warning for two mini-batches that wrote the same output file."""
    return (
        f"output file {name} was written by mini-batch {first} and again by mini-batch {second}; "
        "the later write replaced the earlier one. Every worker shares AZUREML_BI_OUTPUT_PATH: "
        "name each output file after its input (e.g. os.path.basename(path)) so that none is lost"
    )
