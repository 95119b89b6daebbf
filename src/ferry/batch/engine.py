"""Run a batch job from its folder to a terminal state: the engine's public entry points.

:func:`run_job` plans the inputs (once), replays the journal, dispatches what is left to workers
from a :class:`~ferry.workers.compute.Compute`, then assembles the output and writes the reports.
A fresh job starts its workers before it lists its inputs, so the two overlap.
Called again on the same folder, it resumes: settled mini-batches are kept, the ones that were
running are redone, and a job that already ended returns its recorded outcome.
:func:`resume_job` (``ferry job resume``) also gives failed mini-batches a fresh set of attempts.

The server calls these in a background thread; progress arrives through ``on_progress`` and
``progress.json``. Job-level problems (missing inputs, a script that cannot start, too many failed
items) become a ``Failed`` outcome with a message, never an exception.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ferry.batch.definition import JobDefinition, JobLayout
from ferry.batch.dispatcher import Crew, Dispatcher, Verdict
from ferry.batch.eventlog import EventLog
from ferry.batch.journal import Journal, open_journal, read_events
from ferry.batch.ledger import Ledger
from ferry.batch.minibatches import Plan, PlanError, create_plan, open_plan
from ferry.batch.outputs import RowStore
from ferry.batch.progress import Progress, ProgressMeter, earlier_seconds
from ferry.batch.reports import JobSummary, completed_message, write_reports
from ferry.batch.scheduler import Scheduler
from ferry.errors import ConflictError, NotFoundError
from ferry.specs.states import FailureKind, JobState, WorkerState
from ferry.workers.compute import Compute

__all__ = ["JobOutcome", "Progress", "resume_job", "run_job"]

ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended: ``Completed``, ``Failed`` or ``Canceled``, why, and the final counts;
    ``failure`` says what kind of failure failed it (None unless ``Failed``)."""

    state: JobState
    message: str
    progress: Progress
    failure: FailureKind | None = None


def run_job(
    job_dir: str | os.PathLike[str],
    *,
    compute: Compute,
    cancel: threading.Event | None = None,
    on_progress: ProgressCallback | None = None,
    secret_env: Mapping[str, str] | None = None,
) -> JobOutcome:
    """Run (or resume) the job in ``job_dir`` until it completes, fails or is canceled.

    Args:
        job_dir: the job folder; it holds ``job.json`` (a :class:`JobDefinition`).
        compute: starts the workers (``ferry.backends.local.LocalCompute()`` on this machine).
        cancel: set it to stop the job: workers are killed and the outcome is ``Canceled``.
        on_progress: called with a :class:`Progress` about twice a second and on each state
            change, from the engine's thread; exceptions it raises are ignored.
        secret_env: resolved secrets for every worker's environment (in memory only: they are
            never written to the job folder).

    Returns:
        The outcome. A job whose journal already records an end returns that outcome at once.

    Raises:
        NotFoundError: ``job.json`` is missing.
        ConflictError: another engine is running this job folder right now.
    """
    session = _Session(Path(job_dir), compute, cancel, on_progress, secret_env)
    return session.run(retry_failed=False)


def resume_job(
    job_dir: str | os.PathLike[str],
    *,
    compute: Compute,
    cancel: threading.Event | None = None,
    on_progress: ProgressCallback | None = None,
    secret_env: Mapping[str, str] | None = None,
) -> JobOutcome:
    """Run the job again, keeping its successes: failed mini-batches (and any never run) get a
    fresh ``1 + max_retries`` attempts. Same arguments and errors as :func:`run_job`."""
    session = _Session(Path(job_dir), compute, cancel, on_progress, secret_env)
    return session.run(retry_failed=True)


@dataclass(frozen=True)
class _Books:
    """What a session keeps about its job while dispatching: the engine's log, the plan, the
    journal and the ledger it replays into, the rows committed so far and the progress meter."""

    log: EventLog
    plan: Plan
    ledger: Ledger
    journal: Journal
    meter: ProgressMeter
    rows: RowStore


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class _Session:
    """One engine run over a job folder."""

    def __init__(
        self,
        root: Path,
        compute: Compute,
        cancel: threading.Event | None,
        on_progress: ProgressCallback | None,
        secret_env: Mapping[str, str] | None = None,
    ) -> None:
        self.secret_env = dict(secret_env or {})
        self.layout = JobLayout(root)
        if not self.layout.definition.is_file():
            raise NotFoundError(
                f"{self.layout.definition} does not exist; a job folder needs its job.json",
                details={"path": str(self.layout.definition)},
            )
        self.d = JobDefinition.load(self.layout.definition)
        self.compute = compute
        self.cancel = cancel or threading.Event()
        self.on_progress = on_progress
        self.started = time.time()

    def run(self, *, retry_failed: bool) -> JobOutcome:
        layout = self.layout
        layout.state.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(layout.lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConflictError(
                    f"job {self.d.name} is already running in another engine ({layout.root}); "
                    "wait for it or cancel it first"
                ) from None
            log = EventLog(layout.master_log, layout.user_error)
            try:
                return self._run_locked(log, retry_failed)
            finally:
                log.close()
        finally:
            os.close(lock_fd)

    def _run_locked(self, log: EventLog, retry_failed: bool) -> JobOutcome:
        layout, d = self.layout, self.d
        log.info(f"session started for job {d.name} (pid {os.getpid()})")
        problems = d.problems()
        if problems:
            return self._fail_early(log, "job.json is invalid: " + "; ".join(problems))
        crew: Crew | None = None
        try:
            try:
                plan = open_plan(layout.plan)
                if plan is None:
                    crew = self._early_crew()
                    plan = create_plan(d, layout.plan)
            except PlanError as exc:
                return self._fail_early(log, exc.message)
            return self._run_planned(log, retry_failed, plan, crew)
        finally:
            if crew is not None:
                crew.close()  # the workers the dispatcher did not take (or did not end)

    def _early_crew(self) -> Crew | None:
        """A first session's workers, started before its input is listed, so that they get
        ready (interpreter, imports, ``init()``) meanwhile: a large input or a slow ``init()``
        no longer adds up. None when there is no scoring script, when an earlier session's
        journal exists (its workers' names and leftovers come first), or when a worker cannot
        start (the dispatcher tries again and reports it)."""
        d, layout = self.d, self.layout
        if d.entry_script is None or layout.journal.exists():
            return None
        crew = Crew(d, layout, self.compute, first_worker=0, secret_env=self.secret_env)
        try:
            for _ in range(d.worker_count):
                crew.pool.start()
        except OSError:
            crew.close()
            return None
        return crew

    def _run_planned(
        self, log: EventLog, retry_failed: bool, plan: Plan, crew: Crew | None
    ) -> JobOutcome:
        layout = self.layout
        ledger = Ledger(plan.mini_batches_total, plan.batch_len)
        for event in read_events(layout.journal):
            ledger.apply(event)
        meter = ProgressMeter(
            layout.progress,
            layout.progress_overview,
            ledger,
            plan.items_total,
            self.on_progress,
            earlier_seconds=earlier_seconds(layout.progress),
        )
        with open_journal(layout.journal) as journal:
            if retry_failed:
                journal.append({"ev": "reset", "t": time.time()})
                ledger.apply({"ev": "reset"})
            elif ledger.end is not None:
                meter.state = JobState(ledger.end.get("state"))
                return JobOutcome(
                    meter.state,
                    str(ledger.end.get("message", "")),
                    meter.publish(),
                    _failure_of(ledger.end),
                )
            journal.append({"ev": "session", "n": ledger.sessions + 1, "t": time.time()})
            ledger.apply({"ev": "session"})
            self._kill_orphans(log, ledger, journal)
            try:
                return self._dispatch(log, plan, ledger, journal, meter, crew)
            except Exception as exc:  # an engine bug or a full disk: say so, keep the journal
                log.error("engine failed:\n" + traceback.format_exc())
                message = (
                    f"Ferry's batch engine failed: {type(exc).__name__}: {exc}; the job can be "
                    "resumed (see logs/sys/master_role.txt)"
                )
                meter.state = JobState.FAILED
                layout.job_error.parent.mkdir(parents=True, exist_ok=True)
                layout.job_error.write_text(message + "\n\n" + traceback.format_exc())
                return JobOutcome(
                    JobState.FAILED, message, meter.publish(), FailureKind.INTERNAL_ERROR
                )

    def _kill_orphans(self, log: EventLog, ledger: Ledger, journal: Journal) -> None:
        """Kill workers that an engine which died left running (a hung run(), say)."""
        for worker, pid in list(ledger.workers_unended.items()):
            if self.compute.kill_orphan(worker, pid, str(self.layout.root)):
                log.warning(f"{worker} (pid {pid}) outlived the engine that started it; killed")
            event = {"ev": "worker", "w": worker, "state": WorkerState.STOPPED}
            journal.append(event)
            ledger.apply(event)

    def _dispatch(
        self,
        log: EventLog,
        plan: Plan,
        ledger: Ledger,
        journal: Journal,
        meter: ProgressMeter,
        crew: Crew | None,
    ) -> JobOutcome:
        rows = RowStore(self.layout.rows)
        try:
            return self._dispatch_rows(_Books(log, plan, ledger, journal, meter, rows), crew)
        finally:
            rows.close()
            plan.close()

    def _dispatch_rows(self, books: _Books, crew: Crew | None) -> JobOutcome:
        layout, d, log, ledger, meter = self.layout, self.d, books.log, books.ledger, books.meter
        layout.outputs.mkdir(parents=True, exist_ok=True)
        scheduler = Scheduler(d, books.plan, ledger, books.journal, books.rows, log)
        if d.output_action == "append_row":
            for mb in books.rows.missing(ledger):
                log.warning(
                    f"mini-batch {mb}: its rows were lost (machine crash?); running it again"
                )
                scheduler.record({"ev": "lost", "mb": mb})
            scheduler.queue.clear()
            scheduler.queue.extend(ledger.pending())
        meter.set_state(JobState.PREPARING)
        verdict: Verdict
        if scheduler.pending_count and d.entry_script is None:
            verdict = Verdict(
                JobState.FAILED,
                "this job has no entry script (an MLflow model without a scoring script) and the "
                "built-in MLflow batch scorer is not available yet; add code_configuration with "
                "a scoring script to the deployment",
                failure=FailureKind.PREPARATION_FAILED,
            )
        elif (over := scheduler.over_threshold()) is not None:
            # A resume or restart whose earlier sessions already failed too many items.
            verdict = Verdict(JobState.FAILED, over, failure=ledger.last_failure)
        else:
            meter.set_state(JobState.RUNNING)
            meter.restart_clock()
            # Worker names go on from the ones earlier sessions used (their logs stay apart).
            crew = crew or Crew(
                d,
                layout,
                self.compute,
                first_worker=ledger.workers_started,
                secret_env=self.secret_env,
            )
            dispatcher = Dispatcher(d, scheduler, crew, meter, log, self.cancel)
            try:
                verdict = dispatcher.run()
                # Workers run the script's shutdown() meanwhile; close() waits for them.
                return self._finish(books, verdict)
            finally:
                dispatcher.close()
        return self._finish(books, verdict)

    def _finish(self, books: _Books, verdict: Verdict) -> JobOutcome:
        d, layout, plan, ledger, rows = self.d, self.layout, books.plan, books.ledger, books.rows
        journal, meter = books.journal, books.meter
        meter.in_init = (0, 0.0)  # whatever waited in init() has been stopped
        meter.set_state(JobState.FINALIZING)
        output: str | None = None
        size = 0
        message = verdict.message
        if verdict.state is JobState.COMPLETED:
            if d.output_action == "append_row":
                dest = layout.output_file(d.output_file_name)
                size = rows.assemble(ledger, dest)
                output = str(dest.relative_to(layout.root))
            message = completed_message(d, plan, ledger, output)
        finished = time.time()
        summary = JobSummary(
            state=verdict.state,
            message=message,
            started=_iso(self.started),
            finished=_iso(finished),
            seconds=finished - self.started,
            output=output,
            output_bytes=size,
            error=verdict.error,
        )
        write_reports(layout, d, plan, ledger, summary)
        end: dict[str, object] = {"ev": "end", "state": verdict.state, "message": message}
        if verdict.failure is not None:
            end["kind"] = verdict.failure
        journal.append({**end, "t": finished})
        # One sync for the whole ending, rows before the journal that points at them (as
        # Scheduler.sync): until "end" is on disk a crash resumes the job, which redoes any
        # mini-batch whose rows were lost (RowStore.missing).
        rows.sync()
        journal.sync()
        books.log.info(f"job {verdict.state}: {message}")
        if meter.callback_error is not None:
            books.log.warning(f"on_progress raised (ignored): {meter.callback_error!r}")
        meter.state = verdict.state
        return JobOutcome(verdict.state, message, meter.publish(overview=True), verdict.failure)

    def _fail_early(self, log: EventLog, message: str) -> JobOutcome:
        """The job cannot even be planned: report it without a plan or a journal."""
        log.error(message)
        text = f"Job {self.d.name}: {JobState.FAILED}\n{message}\n"
        self.layout.logs.mkdir(parents=True, exist_ok=True)
        self.layout.job_result.write_text(text, encoding="utf-8")
        self.layout.job_error.write_text(text, encoding="utf-8")
        progress = Progress(0, 0, 0, 0, 0, 0, 0.0, None, JobState.FAILED)
        self.layout.progress.write_text(json.dumps(progress.to_json(), indent=2), "utf-8")
        if self.on_progress is not None:
            self.on_progress(progress)
        return JobOutcome(JobState.FAILED, message, progress, FailureKind.PREPARATION_FAILED)


def _failure_of(end: dict[str, object]) -> FailureKind | None:
    """The failure kind an ``end`` event recorded (none before Ferry recorded kinds)."""
    try:
        return FailureKind(end["kind"])
    except (KeyError, ValueError):
        return None
