"""ParallelRunStep's scheduling rules: the dispatch queue, retries, and the error threshold.

The scheduler owns the queue of pending mini-batches and turns what workers report into journal
events, written *before* the ledger (and so the job) acts on them:

* a mini-batch is attempted up to ``1 + max_retries`` times; an attempt fails when ``run()``
  raises (``script_error``), returns fewer rows than it got files (``too_few_rows``), runs past
  ``timeout`` (``timeout``) or its worker dies (``worker_crashed``);
* a failed attempt with tries left goes back to the *front* of the queue, so failures show early;
* after the last attempt every file of the mini-batch counts as failed, except for
  ``too_few_rows``, whose rows are kept and whose missing rows count as failed files;
* the job fails as soon as failed files exceed ``error_threshold`` (``-1``: never).

Mini-batches handed to a worker but never started (queued behind a task that failed) go back
without using an attempt (:meth:`Scheduler.put_back`).
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from typing import Any

from ferry.batch.definition import JobDefinition
from ferry.batch.eventlog import EventLog
from ferry.batch.journal import Journal
from ferry.batch.ledger import Ledger, overwrite_warning
from ferry.batch.minibatches import Plan
from ferry.batch.outputs import RowStore
from ferry.specs.states import FailureKind

__all__ = ["FAILURE_KINDS", "Scheduler", "Task"]

#: What can fail one attempt at a mini-batch (the journal's ``fail`` events carry one).
FAILURE_KINDS = (
    FailureKind.SCRIPT_ERROR,
    FailureKind.TOO_FEW_ROWS,
    FailureKind.TIMEOUT,
    FailureKind.WORKER_CRASHED,
)
_MAX_TRACEBACK = 8000


@dataclass
class Task:
    """One attempt at one mini-batch, handed to one worker."""

    id: int
    mb: int
    attempt: int
    items: list[str]
    worker: str


class Scheduler:
    """Dispatch queue and retry/threshold policy over a :class:`Ledger` and its journal."""

    def __init__(
        self,
        definition: JobDefinition,
        plan: Plan,
        ledger: Ledger,
        journal: Journal,
        rows: RowStore,
        log: EventLog,
    ) -> None:
        self.plan = plan
        self.ledger = ledger
        self.journal = journal
        self.rows = rows
        self.log = log
        self.max_attempts = 1 + max(0, definition.max_retries)
        self.error_threshold = definition.error_threshold
        self.append_row = definition.output_action == "append_row"
        self.queue: deque[int] = deque(ledger.pending())
        self._ids = itertools.count(1)

    def sync(self) -> None:
        """Make what was recorded durable: rows first, then the journal that points at them."""
        self.rows.sync()
        self.journal.sync()

    def record(self, event: dict[str, Any]) -> None:
        """Journal an event, then apply it."""
        self.journal.append(event)
        self.ledger.apply(event)

    @property
    def pending_count(self) -> int:
        return len(self.queue)

    def take(self, worker: str) -> Task | None:
        """The next mini-batch for ``worker`` (journaled as started), or None when none is left."""
        if not self.queue:
            return None
        mb = self.queue.popleft()
        attempt = self.ledger.next_attempt(mb)
        self.journal.append({"ev": "start", "mb": mb, "try": attempt, "w": worker})
        return Task(next(self._ids), mb, attempt, self.plan.mini_batch(mb), worker)

    def put_back(self, task: Task) -> None:
        """Return a task that never started; it keeps its place near the front of the queue."""
        self.queue.appendleft(task.mb)

    def succeeded(
        self,
        task: Task,
        n_items: int,
        rows: bytes,
        seconds: float,
        outputs: list[str] | None = None,
    ) -> bool:
        """``run()`` returned ``n_items`` results; ``rows`` are their encoded output lines
        (see :func:`ferry.runtime.batch.encode_rows`), kept for ``append_row``; ``outputs`` are
        the files it wrote under ``AZUREML_BI_OUTPUT_PATH`` (journaled, to find overwrites).

        Returns:
            False when that is fewer than the mini-batch's files (a ``too_few_rows`` failure).
        """
        expected = len(task.items)
        if n_items < expected:
            error = {
                "type": "TooFewRows",
                "message": (
                    f"run() returned {n_items} result(s) for {expected} file(s); each file needs "
                    "one element in the returned list (or one DataFrame row)"
                ),
            }
            self.failed(
                task, FailureKind.TOO_FEW_ROWS, error, seconds=seconds, rows=rows, n_items=n_items
            )
            return False
        data = rows if self.append_row else b""
        event: dict[str, Any] = {
            "ev": "ok",
            "mb": task.mb,
            "try": task.attempt,
            "n": n_items,
            "at": self.rows.append(data),
            "bytes": len(data),
            "s": round(seconds, 6),
            "w": task.worker,
        }
        if outputs:
            event["out"] = outputs
        before = len(self.ledger.overwrites)
        self.record(event)
        for name, first, second in self.ledger.overwrites[before:]:
            self.log.warning(overwrite_warning(name, first, second))
        return True

    def failed(
        self,
        task: Task,
        kind: FailureKind,
        error: dict[str, Any],
        *,
        seconds: float = 0.0,
        rows: bytes = b"",
        n_items: int = 0,
    ) -> bool:
        """Record a failed attempt; returns True when it was the last one.

        Args:
            task: the attempt.
            kind: one of :data:`FAILURE_KINDS`.
            error: ``{type, message, traceback?, where?}``.
            seconds: how long the attempt ran.
            rows, n_items: what a ``too_few_rows`` attempt returned (kept after the last try).
        """
        final = task.attempt >= self.max_attempts
        clean: dict[str, Any] = {
            k: error[k] for k in ("type", "message", "traceback", "where") if k in error
        }
        if "traceback" in clean:
            clean["traceback"] = str(clean["traceback"])[-_MAX_TRACEBACK:]
        event: dict[str, Any] = {
            "ev": "fail",
            "mb": task.mb,
            "try": task.attempt,
            "kind": kind,
            "final": final,
            "error": clean,
            "s": round(seconds, 6),
            "w": task.worker,
        }
        if final and kind is FailureKind.TOO_FEW_ROWS:
            data = rows if self.append_row else b""
            event["n"] = n_items
            event["at"] = self.rows.append(data)
            event["bytes"] = len(data)
        self.record(event)
        what = "gives up" if final else f"will retry ({task.attempt}/{self.max_attempts} tries)"
        if kind is FailureKind.SCRIPT_ERROR:
            self.log.script_error(
                worker=task.worker, mb=task.mb, attempt=task.attempt, files=task.items, error=clean
            )
        else:
            self.log.warning(
                f"mini-batch {task.mb} attempt {task.attempt} on {task.worker}: {kind}: "
                f"{clean.get('message')}"
            )
        self.log.info(f"mini-batch {task.mb}: {kind}; {what}")
        if not final:
            self.queue.appendleft(task.mb)
        return final

    def over_threshold(self) -> str | None:
        """The failure message once failed files exceed ``error_threshold``, else None."""
        failed = self.ledger.items_failed
        if self.error_threshold < 0 or failed <= self.error_threshold:
            return None
        return (
            f"{failed} items failed, over the error_threshold of {self.error_threshold}; "
            "see logs/job_error.txt"
        )
