"""Live progress: counts, rate and ETA, published to ``progress.json`` and a callback.

``progress.json`` is rewritten atomically (temporary file + rename), so a reader never sees half
a file; it is published at most every ``interval`` seconds (default 0.5) plus once on every state
change. ``logs/job_progress_overview.txt`` gets a line every ``overview_interval`` seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ferry.batch.ledger import Ledger, overwrite_warning
from ferry.specs.states import JobState

__all__ = ["Progress", "ProgressMeter", "earlier_seconds", "init_activity", "read_progress"]


@dataclass(frozen=True)
class Progress:
    """A snapshot of a job's progress."""

    items_total: int
    items_succeeded: int
    items_failed: int
    mini_batches_total: int
    #: Mini-batches with a final verdict (succeeded, failed or partial).
    mini_batches_done: int
    #: Of those, the ones with failed items.
    mini_batches_failed: int
    #: Items settled per second in this engine session (0 before the first one).
    items_per_second: float
    #: Seconds left at the current rate; None while unknown.
    eta_seconds: float | None
    #: Preparing, Running, Finalizing, then Completed, Failed or Canceled.
    state: JobState
    #: Seconds the job has run, all of its engine sessions together (a server that restarts
    #: resumes the job in a new session); each session counts from when it started dispatching.
    elapsed_seconds: float = 0.0
    #: Workers started and not ready yet (loading the script or in ``init()``) while none is
    #: ready: the job waits on them; with ``init_seconds`` the longest such wait so far.
    workers_in_init: int = 0
    init_seconds: float = 0.0
    #: What the job is waiting on, in words ("2 workers in init() for 40 s"), else None.
    activity: str | None = None
    #: Problems that do not fail the job: two mini-batches that wrote the same output file.
    warnings: list[str] = field(default_factory=list)

    @property
    def items_done(self) -> int:
        return self.items_succeeded + self.items_failed

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Progress:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["state"] = JobState(fields["state"])
        return cls(**fields)


def read_progress(path: Path) -> Progress | None:
    """The last published snapshot in ``progress.json``, or None if there is none yet."""
    try:
        return Progress.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (FileNotFoundError, ValueError):
        return None


def earlier_seconds(path: Path) -> float:
    """What the job's earlier sessions ran, from the snapshot the last one published.

    A session killed with its server publishes nothing at its end, so the snapshot it left is
    the best record there is: it is at most ``interval`` seconds behind.
    """
    last = read_progress(path)
    return last.elapsed_seconds if last is not None else 0.0


class ProgressMeter:
    """Computes snapshots from a :class:`Ledger` and publishes them, throttled."""

    def __init__(
        self,
        path: Path,
        overview: Path,
        ledger: Ledger,
        items_total: int,
        on_progress: Callable[[Progress], None] | None = None,
        *,
        interval: float = 0.5,
        overview_interval: float = 10.0,
        earlier_seconds: float = 0.0,
    ) -> None:
        self.path = path
        self.overview = overview
        self.ledger = ledger
        self.items_total = items_total
        self.on_progress = on_progress
        self.interval = interval
        self.overview_interval = overview_interval
        self.state = JobState.PREPARING
        self.callback_error: BaseException | None = None
        #: What earlier sessions of the job ran (see :func:`earlier_seconds`).
        self.earlier_seconds = earlier_seconds
        self._t0 = time.monotonic()
        self._done0 = self._done()
        self._last = float("-inf")
        self._last_overview = float("-inf")
        #: ``(workers, seconds)`` still in ``init()`` while none is ready (the dispatcher's).
        self.in_init: tuple[int, float] = (0, 0.0)

    def _done(self) -> int:
        return self.ledger.items_succeeded + self.ledger.items_failed

    def restart_clock(self) -> None:
        """Measure the rate from now on (when dispatching starts)."""
        self._t0 = time.monotonic()
        self._done0 = self._done()

    def snapshot(self) -> Progress:
        led = self.ledger
        elapsed = time.monotonic() - self._t0
        done_now = self._done() - self._done0
        rate = done_now / elapsed if elapsed > 0 and done_now > 0 else 0.0
        left = self.items_total - self._done()
        eta = left / rate if rate > 0 else (0.0 if left == 0 else None)
        return Progress(
            state=self.state,
            items_total=self.items_total,
            items_succeeded=led.items_succeeded,
            items_failed=led.items_failed,
            mini_batches_total=led.total,
            mini_batches_done=led.mini_batches_done,
            mini_batches_failed=led.mini_batches_failed,
            items_per_second=round(rate, 3),
            eta_seconds=None if eta is None else round(eta, 3),
            elapsed_seconds=round(self.earlier_seconds + elapsed, 3),
            workers_in_init=self.in_init[0],
            init_seconds=round(self.in_init[1], 1),
            activity=init_activity(*self.in_init),
            warnings=_warnings(led),
        )

    def set_in_init(self, workers: int, seconds: float) -> None:
        """Publish at once when workers start or stop waiting in ``init()``."""
        changed = (workers == 0) != (self.in_init[0] == 0)
        self.in_init = (workers, seconds)
        if changed:
            self.publish(overview=True)

    def tick(self) -> None:
        """Publish if ``interval`` has passed since the last publication."""
        if time.monotonic() - self._last >= self.interval:
            self.publish()

    def set_state(self, state: JobState) -> Progress:
        """Change the state and publish at once."""
        self.state = state
        return self.publish(overview=True)

    def publish(self, *, overview: bool = False) -> Progress:
        now = time.monotonic()
        self._last = now
        snap = self.snapshot()
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(snap.to_json(), indent=2), encoding="utf-8")
        tmp.replace(self.path)
        if overview or now - self._last_overview >= self.overview_interval:
            self._last_overview = now
            self._write_overview(snap)
        if self.on_progress is not None:
            try:
                self.on_progress(snap)
            except Exception as exc:  # the caller's bug must not stop the job
                self.callback_error = exc
        return snap

    def _write_overview(self, snap: Progress) -> None:
        eta = "unknown" if snap.eta_seconds is None else f"{snap.eta_seconds:.0f} s"
        waiting = f"; {snap.activity}" if snap.activity else ""
        line = (
            f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {snap.state}: "
            f"{snap.mini_batches_done} of {snap.mini_batches_total} mini-batches processed "
            f"({snap.mini_batches_failed} failed); items {snap.items_succeeded} succeeded, "
            f"{snap.items_failed} failed, {snap.items_total} total; "
            f"{snap.items_per_second:.1f} items/s; ETA {eta}{waiting}\n"
        )
        self.overview.parent.mkdir(parents=True, exist_ok=True)
        with self.overview.open("a", encoding="utf-8") as f:
            f.write(line)


#: Overwrite warnings listed in progress.json at most (job_result.txt lists them all).
_WARNINGS_SHOWN = 20


def init_activity(workers: int, seconds: float) -> str | None:
    """``2 workers in init() for 40 s`` (None when no worker waits in ``init()``)."""
    if workers <= 0:
        return None
    return f"{workers} worker{'s' if workers != 1 else ''} in init() for {seconds:.0f} s"


def _warnings(ledger: Ledger) -> list[str]:
    shown = [overwrite_warning(*o) for o in ledger.overwrites[:_WARNINGS_SHOWN]]
    if len(ledger.overwrites) > _WARNINGS_SHOWN:
        more = len(ledger.overwrites) - _WARNINGS_SHOWN
        shown.append(f"... and {more} more overwritten output files: see logs/job_result.txt")
    return shown
