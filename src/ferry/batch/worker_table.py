"""The job's workers as a table, folded from the journal: state, current mini-batch, restarts.

Workers are processes named ``process000``, ``process001`` ...; a lost worker is replaced by a new
process with a new name. The table shows *slots*: a replacement takes the slot of the worker it
replaces, and the slot counts it as a restart. A worker stopped on purpose (the job ended, or had
fewer mini-batches than workers) frees its slot without a restart. A new engine session (a resume,
a server restart) starts with every slot free.

The journal is read incrementally (:meth:`WorkerTable.feed` keeps its offset), so a page that
follows a long job reads each event once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferry.specs.states import WorkerState

__all__ = ["WorkerSlot", "WorkerTable"]

#: A worker in one of these states is gone; its slot takes the next worker started.
_ENDED = {WorkerState.LOST, WorkerState.INIT_FAILED, WorkerState.STOPPED}
#: Of those, the ones whose replacement is a restart.
_FAILED = {WorkerState.LOST, WorkerState.INIT_FAILED}
#: The table's own words beside the journal's WorkerStates: started but not ready yet, and
#: ready with a mini-batch in hand (the journal records tasks, not a worker state, for that).
_STARTING = "starting"
_RUNNING = "running"


@dataclass
class WorkerSlot:
    """One row: the slot's current (or last) worker process."""

    slot: int
    worker: str
    pid: int | None = None
    #: starting, ready, running, lost, init_failed or stopped.
    state: str = _STARTING
    #: Mini-batches sent to the worker and not answered yet, oldest (the one running) first.
    queue: list[tuple[int, int]] = field(default_factory=list)
    mini_batches_done: int = 0
    restarts: int = 0
    #: Why the last worker of the slot was lost ("exited with code 1", "Timeout ...").
    last_exit: str | None = None

    @property
    def current(self) -> tuple[int, int] | None:
        """``(mini_batch, attempt)`` the worker is running now."""
        return self.queue[0] if self.queue and self.state not in _ENDED else None


class WorkerTable:
    """Folds journal events into :class:`WorkerSlot` rows."""

    def __init__(self) -> None:
        self.slots: list[WorkerSlot] = []
        self._by_worker: dict[str, WorkerSlot] = {}
        self._offset = 0

    @property
    def offset(self) -> int:
        """Bytes of the journal read so far."""
        return self._offset

    def feed(self, journal: Path) -> bool:
        """Read the journal's events appended since the last call; True if any was new."""
        try:
            handle = journal.open("rb")
        except FileNotFoundError:
            return False
        changed = False
        with handle:
            handle.seek(self._offset)
            for line in handle:
                if not line.endswith(b"\n"):
                    break  # being written: read it next time, whole
                self._offset += len(line)
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict):
                    changed |= self.apply(event)
        return changed

    def apply(self, event: dict[str, Any]) -> bool:
        """Apply one event; True if it changed the table."""
        kind = event.get("ev")
        if kind == "session":
            for slot in self.slots:
                if slot.state not in _ENDED:
                    # The previous engine session's workers are gone.
                    slot.state = WorkerState.STOPPED
                slot.queue.clear()
            self._by_worker.clear()
            return True
        worker = str(event.get("w", ""))
        if kind == "worker":
            return self._worker_event(worker, event)
        found = self._by_worker.get(worker)
        if found is None:
            return False
        slot = found
        mb = int(event.get("mb", -1))
        if kind == "start":
            slot.queue.append((mb, int(event.get("try", 1))))
            slot.state = _RUNNING
        elif kind in ("ok", "fail"):
            slot.queue = [entry for entry in slot.queue if entry[0] != mb]
            slot.mini_batches_done += 1
            if slot.state == _RUNNING and not slot.queue:
                slot.state = WorkerState.READY
        else:
            return False
        return True

    def _worker_event(self, worker: str, event: dict[str, Any]) -> bool:
        state = str(event.get("state", ""))
        if state == WorkerState.STARTED:
            slot = self._free_slot()
            if slot is None:
                slot = WorkerSlot(slot=len(self.slots), worker=worker)
                self.slots.append(slot)
            else:
                if slot.state in _FAILED:
                    slot.restarts += 1
                slot.worker, slot.state, slot.queue = worker, _STARTING, []
            slot.pid = event.get("pid")
            self._by_worker[worker] = slot
            return True
        slot = self._by_worker.get(worker)
        if slot is None:
            return False
        if state == WorkerState.READY:
            slot.state = _RUNNING if slot.queue else WorkerState.READY
        elif state in _ENDED:
            slot.state = state
            slot.queue.clear()
            # What the engine records about its tasks afterwards is not the slot's next worker's.
            del self._by_worker[worker]
            if state in _FAILED:
                error = event.get("error") or {}
                slot.last_exit = str(event.get("exit") or error.get("message") or state)
        else:
            return False
        return True

    def _free_slot(self) -> WorkerSlot | None:
        """The first slot whose worker is gone (a failed one first: its replacement restarts it)."""
        ended = [slot for slot in self.slots if slot.state in _ENDED]
        failed = [slot for slot in ended if slot.state in _FAILED]
        candidates = failed or ended
        return candidates[0] if candidates else None
