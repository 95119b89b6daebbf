"""The engine's event loop: hand mini-batches to workers and settle what comes back.

Each ready worker gets a mini-batch, plus one more queued behind it while plenty of work is left,
so it never waits for the engine between two ``run()`` calls. Results are settled through the
:class:`Scheduler` (journal first). Nothing here sleeps in the hot path: the hub's ``select``
wakes on I/O, and its timeout only bounds how late a deadline (a mini-batch timeout, an init
timeout, a cancel request, a process exit) is noticed.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ferry.batch.definition import JobDefinition, JobLayout
from ferry.batch.eventlog import EventLog
from ferry.batch.hub import Event, Hub
from ferry.batch.pool import Worker, WorkerPool, stderr_tail
from ferry.batch.progress import ProgressMeter
from ferry.batch.scheduler import Scheduler
from ferry.batch.syncer import Syncer
from ferry.runtime import messages as m
from ferry.specs.states import FailureKind, JobState, WorkerState
from ferry.workers.compute import Compute, describe_exit

__all__ = ["Crew", "Dispatcher", "Verdict"]

_TICK = 0.1  # longest wait: how late a cancel request or a process exit is noticed
_SYNC_EVERY = 0.5  # journal fdatasync period (the sync runs in the Syncer's thread)
_SHUTDOWN_GRACE = 5.0  # seconds workers get to run the script's shutdown() at the end


@dataclass
class Verdict:
    """How dispatching ended: ``Completed``, ``Failed`` or ``Canceled``, and why; a failure
    says its :class:`FailureKind`."""

    state: JobState
    message: str = ""
    error: dict[str, Any] | None = None
    failure: FailureKind | None = None


class Crew:
    """A job's workers and the hub they connect to.

    The engine makes one for a fresh job before its plan, so that the workers start
    (interpreter, imports, ``init()``) while its input is being listed; their frames wait in the
    hub's socket until the dispatcher reads them. Otherwise it makes one when dispatching begins.
    """

    def __init__(
        self,
        definition: JobDefinition,
        layout: JobLayout,
        compute: Compute,
        first_worker: int,
        secret_env: Mapping[str, str] | None = None,
    ) -> None:
        # One secret per crew (a job's run): workers on a cluster's network connect over TCP,
        # and a worker id alone (process000) is easy to guess.
        token = secrets.token_urlsafe(32)
        self.hub = Hub(
            compute.transport, lambda wid: self.pool.workers.get(wid), token, compute.listen_host
        )
        self.pool = WorkerPool(
            definition,
            layout,
            compute,
            self.hub.address,
            first_worker,
            {**(secret_env or {}), m.TOKEN_ENV: token},
        )

    def dismiss(self, worker: Worker) -> int | None:
        """Drop a worker's connection, kill it and forget it; returns its exit status."""
        self.hub.forget(worker)
        return self.pool.remove(worker)

    def close(self) -> None:
        """Kill the workers still here and close the hub (a no-op once done)."""
        for w in list(self.pool.workers.values()):
            self.dismiss(w)
        self.hub.close()


class Dispatcher:
    """Runs the pending mini-batches of one job on the workers of a :class:`Crew`."""

    def __init__(
        self,
        definition: JobDefinition,
        scheduler: Scheduler,
        crew: Crew,
        meter: ProgressMeter,
        log: EventLog,
        cancel: threading.Event,
    ) -> None:
        self.d = definition
        self.scheduler = scheduler
        self.meter = meter
        self.log = log
        self.cancel = cancel
        self.verdict: Verdict | None = None
        self._shutdown_at = float("-inf")  # when workers were asked to shut down
        self.syncer: Syncer | None = None  # while run() dispatches
        self.crew, self.hub, self.pool = crew, crew.hub, crew.pool

    def run(self) -> Verdict:
        """Dispatch until every mini-batch is settled, the job fails, or ``cancel`` is set.

        On success the workers are asked to shut down (they run the script's ``shutdown()``
        while the engine assembles the output); otherwise they are killed. Call :meth:`close`
        afterwards, always.
        """
        syncer = self.syncer = Syncer(self.scheduler.sync, name=f"ferry-sync-{self.d.name}")
        try:
            self._adopt_workers()
            self._ensure_workers()
            last_sync = last_poll = time.monotonic()
            while self.verdict is None:
                if self.cancel.is_set():
                    self.verdict = Verdict(JobState.CANCELED, "the job was canceled")
                    break
                if not self.scheduler.pending_count and not self.pool.inflight_count:
                    self.verdict = Verdict(JobState.COMPLETED)
                    break
                for event in self.hub.wait(self._wait()):
                    self._on_event(event)
                now = time.monotonic()
                poll = now - last_poll >= _TICK
                if poll:
                    last_poll = now
                self._check_workers(now, poll)
                if now - last_sync >= _SYNC_EVERY:
                    syncer.request()
                    last_sync = now
                if poll:  # not per frame: the loop wakes on every result
                    self._note_init(now)
                self.meter.tick()
        except BaseException:
            self.close()
            raise
        syncer.close()  # raises if a sync failed; the job's end syncs on the spot (_finish)
        self._stop(graceful=self.verdict.state is JobState.COMPLETED)
        return self.verdict

    def close(self) -> None:
        """Give workers that were asked to shut down up to a grace period, then kill the rest."""
        if self.syncer is not None:
            self.syncer.close(check=False)  # a failed sync was raised by run() already
        deadline = self._shutdown_at + _SHUTDOWN_GRACE
        for w in list(self.pool.workers.values()):
            w.proc.wait(max(0.0, deadline - time.monotonic()))
        self.crew.close()

    def _wait(self) -> float:
        wait = _TICK
        now = time.monotonic()
        for w in self.pool.workers.values():
            if w.inflight:
                wait = min(wait, w.head_since + self.d.timeout - now)
        return max(wait, 0.0)

    def _fail(
        self, failure: FailureKind, message: str, error: dict[str, Any] | None = None
    ) -> None:
        if self.verdict is None:
            self.verdict = Verdict(JobState.FAILED, message, error, failure)

    def _check_threshold(self, failure: FailureKind) -> None:
        """Fail the job if the attempt that just failed (of kind ``failure``) tipped it over."""
        message = self.scheduler.over_threshold()
        if message is not None:
            self._fail(failure, message)

    # -- workers -----------------------------------------------------------------------------
    def _wanted(self) -> int:
        """How many workers are useful: never more than the mini-batches left."""
        return min(self.d.worker_count, self.scheduler.pending_count + self.pool.inflight_count)

    def _started(self, w: Worker) -> None:
        event = {"ev": "worker", "w": w.id, "pid": w.proc.pid, "state": WorkerState.STARTED}
        self.scheduler.record(event)
        self.log.info(f"{w.id} started (pid {w.proc.pid})")

    def _adopt_workers(self) -> None:
        """Journal the workers the engine started before the plan, and stop the ones the job
        turned out not to need (fewer mini-batches than workers)."""
        early = list(self.pool.workers.values())
        want = self._wanted()
        for w in early:
            self._started(w)  # even a surplus one: a later session must not reuse its name
        for w in early[want:]:
            self.crew.dismiss(w)
            self.scheduler.record({"ev": "worker", "w": w.id, "state": WorkerState.STOPPED})
            self.log.info(f"{w.id} stopped before it was needed: the job has too few mini-batches")

    def _ensure_workers(self) -> None:
        """Start workers until there are as many as useful (never more than the work left)."""
        want = self._wanted()
        while self.verdict is None and len(self.pool.workers) < want:
            try:
                w = self.pool.start()
            except OSError as exc:
                self._fail(
                    FailureKind.INIT_FAILED,
                    f"cannot start a worker with the environment's python {self.d.python}: {exc}; "
                    "check that the environment was built and its interpreter exists",
                )
                return
            self._started(w)

    def _fill(self, w: Worker) -> None:
        """Give a ready worker its next task, and one more queued behind it while work abounds."""
        if not w.ready or self.verdict is not None:
            return
        # A second task hides the round trip, but only while every worker (the ones still in
        # init() too) can still get one of its own: counting ready workers only, the first one
        # ready took 2 of 2 mini-batches and its peer, ready a moment later, got none.
        depth = 2 if self.scheduler.pending_count > len(self.pool.workers) else 1
        while len(w.inflight) < depth:
            task = self.scheduler.take(w.id)
            if task is None:
                return
            if not w.inflight:
                w.head_since = time.monotonic()
            w.inflight.append(task)
            # mb and attempt only label the worker's log lines, numbered as the reports are.
            header = {"kind": m.RUN_BATCH, "id": task.id, "mb": task.mb, "attempt": task.attempt}
            if not self.hub.send(w, {**header, "items": task.items}):
                return  # the worker is gone; its end of connection settles the tasks

    def _fill_all(self) -> None:
        for w in list(self.pool.workers.values()):
            self._fill(w)

    def _lose(self, w: Worker, kind: FailureKind, error: dict[str, Any] | None = None) -> None:
        """A worker is gone (or must go): kill it, settle its tasks, replace it if useful."""
        exit_text = describe_exit(self.crew.dismiss(w))
        if not w.ready:
            if error is None:
                tail = stderr_tail(self.pool.layout.user_stderr(w.id))
                error = {
                    "type": "WorkerExited",
                    "message": f"{w.id} {exit_text} before it was ready"
                    + (f"; its last stderr line: {tail}" if tail else ""),
                }
            event = {
                "ev": "worker",
                "w": w.id,
                "state": WorkerState.INIT_FAILED,
                "kind": FailureKind.INIT_FAILED,
                "error": error,
            }
            self.scheduler.record(event)
            self.log.error(f"{w.id} failed to start: {error.get('type')}: {error.get('message')}")
            if self.pool.init_failed(w, error):
                self._fail(FailureKind.INIT_FAILED, self.pool.init_failure_message(), error)
        else:
            self.scheduler.record(
                {
                    "ev": "worker",
                    "w": w.id,
                    "state": WorkerState.LOST,
                    "kind": kind,
                    "exit": exit_text,
                }
            )
            self.log.warning(f"{w.id} {exit_text}")
            tasks = list(w.inflight)
            for task in reversed(tasks[1:]):
                self.scheduler.put_back(task)  # queued behind the head: never started
            if tasks:
                head = tasks[0]
                if error is None:
                    error = {
                        "type": "WorkerCrashed",
                        "message": f"worker {w.id} {exit_text} while running mini-batch "
                        f"{head.mb}; see {self.pool.stderr_path(w.id)}",
                    }
                seconds = time.monotonic() - w.head_since
                self.scheduler.failed(head, kind, error, seconds=seconds)
                self._check_threshold(kind)
        self._ensure_workers()
        self._fill_all()

    def _check_workers(self, now: float, poll: bool) -> None:
        """Kill workers past a deadline; notice the ones that exited (at most every tick)."""
        for w in list(self.pool.workers.values()):
            if w.id not in self.pool.workers:
                continue
            if w.inflight and now - w.head_since > self.d.timeout:
                head = w.inflight[0]
                message = (
                    f"run() did not return within the timeout of {self.d.timeout:g} s on "
                    f"mini-batch {head.mb}; worker {w.id} was killed"
                )
                self._lose(w, FailureKind.TIMEOUT, {"type": "Timeout", "message": message})
            elif not w.ready and now - w.started_at > self.d.init_timeout:
                message = (
                    f"{w.id} was not ready within init_timeout ({self.d.init_timeout:g} s): the "
                    f"script's load or init() did not return; see {self.pool.stderr_path(w.id)}. "
                    "If init() needs longer, raise settings.init_timeout in the deployment or "
                    "pass --set init_timeout=<seconds> at invoke"
                )
                self._lose(w, FailureKind.INIT_FAILED, {"type": "InitTimeout", "message": message})
            elif poll and w.proc.poll() is not None:
                for event in self.hub.drain(w):  # what it sent before exiting comes first
                    self._on_event(event)
                if w.id in self.pool.workers:
                    self._lose(w, FailureKind.WORKER_CRASHED)

    def _note_init(self, now: float) -> None:
        """Tell the progress how many workers wait in ``init()`` while none is ready."""
        waiting = [w for w in self.pool.workers.values() if not w.ready]
        if len(waiting) < len(self.pool.workers) or not waiting:
            self.meter.set_in_init(0, 0.0)
        else:
            self.meter.set_in_init(len(waiting), now - min(w.started_at for w in waiting))

    def _stop(self, *, graceful: bool) -> None:
        """Ask ready workers to shut down (graceful), kill every other worker now."""
        self._shutdown_at = time.monotonic()
        for w in list(self.pool.workers.values()):
            if not (graceful and w.ready and self.hub.send(w, {"kind": m.SHUTDOWN})):
                self.crew.dismiss(w)
            self.scheduler.record({"ev": "worker", "w": w.id, "state": WorkerState.STOPPED})

    # -- frames ------------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        w, header, body = event
        if w.id not in self.pool.workers:
            return  # already lost; later frames of it do not count
        if header is None:
            self._lose(w, FailureKind.WORKER_CRASHED)
            return
        kind = header["kind"]
        if kind == m.READY:
            w.ready = True
            init_ms = float(header.get("init_ms", 0.0))
            ready = {"ev": "worker", "w": w.id, "state": WorkerState.READY, "init_ms": init_ms}
            self.scheduler.record(ready)
            self.log.info(f"{w.id} ready (pid {header.get('pid')}, init {init_ms:.0f} ms)")
            self._fill(w)
        elif kind == m.INIT_FAILED:
            self._lose(w, FailureKind.INIT_FAILED, dict(header.get("error") or {}))
        elif kind in (m.RESULT, m.ERROR):
            self._on_answer(w, header, body)

    def _on_answer(self, w: Worker, header: dict[str, Any], body: bytes) -> None:
        if not w.inflight or w.inflight[0].id != header.get("id"):
            expected = w.inflight[0].id if w.inflight else None
            message = (
                f"worker {w.id} answered request {header.get('id')!r} while {expected!r} was "
                "running; the worker was replaced"
            )
            self._lose(w, FailureKind.WORKER_CRASHED, {"type": "ProtocolError", "message": message})
            return
        task = w.inflight.popleft()
        w.head_since = time.monotonic()
        seconds = float(header.get("elapsed_ms", 0.0)) / 1000.0
        if header["kind"] == m.RESULT:
            n_items = int(header.get("n_items", 0))
            outputs = [str(o) for o in header.get("outputs") or ()]
            ok = self.scheduler.succeeded(task, n_items, body, seconds, outputs)
        else:
            error = dict(header.get("error") or {})
            self.scheduler.failed(task, FailureKind.SCRIPT_ERROR, error, seconds=seconds)
            ok = False
        if ok:
            self._fill(w)
        else:  # a retry may be queued: idle workers can take it
            self._check_threshold(
                FailureKind.TOO_FEW_ROWS if header["kind"] == m.RESULT else FailureKind.SCRIPT_ERROR
            )
            self._fill_all()
