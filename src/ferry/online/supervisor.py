"""Keeps one deployment's replicas alive and reports its provisioning state.

* Creating: every replica is started; once all said ``ready`` (their ``init()`` returned) the
  deployment is Succeeded. A replica whose script fails to load or whose ``init()`` raises makes
  it Failed, with the traceback in the error; so does one that takes longer than the liveness
  budget (``initial_delay + failure_threshold x period``) to start.
* Running: a replica that dies is restarted with a growing back-off (0.5 s up to 30 s). The
  probes run as Azure's do, with pings over the replica's channel: ``failure_threshold``
  liveness failures in a row restart it; readiness failures take it out of rotation until
  ``success_threshold`` probes pass again. The first probe comes ``initial_delay`` seconds after
  the replica became ready; it gets traffic as soon as its ``init()`` returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from ferry.online.metrics import Metrics
from ferry.online.pool import DeploymentPool
from ferry.online.replica import Replica
from ferry.runtime import messages as m
from ferry.specs.online import ProbeSettings
from ferry.specs.states import DeploymentState, FailureKind, ReplicaState

__all__ = ["Supervisor"]

_log = logging.getLogger("ferry.online")
_TICK_S = 0.1
_STABLE_S = 30.0  # a replica up this long has its back-off reset
#: How long a restart waits past its back-off for the old process to be gone: a Ray actor's
#: death is seen on its next poll (~0.5 s), and until then it holds its CPUs on the cluster.
_REAP_WAIT_S = 5.0

StateCallback = Callable[[DeploymentState, str | None], Awaitable[None]]


class _Probe:
    """One probe of one replica: when the next ping is due, and the run of results."""

    def __init__(self, settings: ProbeSettings, ready_at: float) -> None:
        self.settings = settings
        self.next_at = ready_at + settings.initial_delay
        self.sent_at: float | None = None
        self.failures = 0
        self.successes = 0

    def result(self, ok: bool, now: float) -> None:
        self.sent_at = None
        self.next_at = now + self.settings.period
        if ok:
            self.successes += 1
            self.failures = 0
        else:
            self.failures += 1
            self.successes = 0


class Supervisor:
    """Starts, watches, probes and restarts a pool's replicas."""

    def __init__(self, pool: DeploymentPool, metrics: Metrics, on_state: StateCallback) -> None:
        self.pool = pool
        self.state = DeploymentState.CREATING
        self.error: str | None = None
        self._metrics = metrics
        self._on_state = on_state
        self._wake = asyncio.Event()
        self._stopping = False
        self._restart_at: dict[str, float] = {}
        self._crashes: dict[str, int] = {}
        self._probes: dict[str, tuple[_Probe, _Probe]] = {}
        self._task: asyncio.Task[None] | None = None
        liveness = pool.spec.liveness_probe
        self._startup_budget = liveness.initial_delay + liveness.failure_threshold * liveness.period
        pool.on_replica_change = lambda _: self._wake.set()

    def start(self) -> None:
        for replica in self.pool.replicas:
            replica.spawn()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def wait_settled(self) -> DeploymentState:
        """Wait until the deployment left Creating (Succeeded or Failed)."""
        while self.state is DeploymentState.CREATING and not self._stopping:
            self._wake.set()
            await asyncio.sleep(_TICK_S)
        return self.state

    async def _run(self) -> None:
        while not self._stopping:
            now = time.monotonic()
            for replica in self.pool.replicas:
                try:
                    self._check(replica, now)
                except Exception:  # one odd replica must not stop the supervision of the rest
                    _log.exception("supervising %s", replica.name)
            if self.state is DeploymentState.CREATING:
                await self._settle()
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), _TICK_S)

    async def _settle(self) -> None:
        failed = [r for r in self.pool.replicas if r.state is ReplicaState.FAILED]
        if failed:
            self.error = _failure_text(failed[0])
            self.state = DeploymentState.FAILED
            for replica in self.pool.replicas:
                replica.kill()
            self._stopping = True
            await self._on_state(self.state, self.error)
        elif all(r.state is ReplicaState.READY for r in self.pool.replicas):
            self.state = DeploymentState.SUCCEEDED
            await self._on_state(self.state, None)

    def _check(self, replica: Replica, now: float) -> None:
        state = replica.state
        if state is ReplicaState.STARTING:
            code = replica.poll()
            if code is not None:
                replica.failure = FailureKind.INIT_FAILED
                replica.error = {
                    "type": "WorkerExited",
                    "message": f"the worker process {replica.describe_exit()} before init() "
                    "finished (killed, out of memory, or os._exit in the script)",
                    "traceback": "",
                    "where": "init",
                }
                self._died(replica, now, failed=True)
            elif now - replica.spawned_at > self._startup_budget:
                replica.failure = FailureKind.INIT_FAILED
                replica.error = {
                    "type": "InitTimeout",
                    "message": f"init() did not finish within {self._startup_budget:.0f} s "
                    "(liveness_probe initial_delay + failure_threshold x period); raise them "
                    "if loading the model takes longer",
                    "traceback": "",
                    "where": "init",
                }
                replica.kill()
                self._died(replica, now, failed=True)
        elif state in (ReplicaState.READY, ReplicaState.UNREADY):
            if replica.poll() is not None:
                replica.failure = FailureKind.WORKER_CRASHED
                replica.kill()  # drops the channel: everything in flight fails with 503
                self._died(replica, now)
                return
            self._probe(replica, now)
            if now - replica.ready_at > _STABLE_S:
                self._crashes.pop(replica.name, None)
        elif state is ReplicaState.FAILED:
            replica.kill()
            replica.poll()
            if self.state is not DeploymentState.CREATING:
                self._died(replica, now, failed=True)
        elif state is ReplicaState.DEAD:
            replica.kill()
            replica.poll()
            restart_at = self._restart_at.get(replica.name)
            if restart_at is None:
                self._died(replica, now)
            elif now >= restart_at and (
                replica.exit_code is not None
                or replica.pid is None
                or now >= restart_at + _REAP_WAIT_S
            ):
                del self._restart_at[replica.name]
                self._probes.pop(replica.name, None)
                replica.restarts += 1
                self._metrics.restart(self.pool.endpoint, self.pool.name)
                _log.warning("restarting replica %s (restart %d)", replica.name, replica.restarts)
                replica.spawn()

    def _died(self, replica: Replica, now: float, *, failed: bool = False) -> None:
        if failed and self.state is DeploymentState.CREATING:
            replica.state = ReplicaState.FAILED
            return
        replica.state = ReplicaState.DEAD
        crashes = self._crashes.get(replica.name, 0)
        self._crashes[replica.name] = crashes + 1
        self._restart_at[replica.name] = now + min(30.0, 0.5 * 2**crashes)
        replica.on_change(replica)

    def _probe(self, replica: Replica, now: float) -> None:
        probes = self._probes.get(replica.name)
        if probes is None:
            spec = self.pool.spec
            probes = (
                _Probe(spec.liveness_probe, replica.ready_at),
                _Probe(spec.readiness_probe, replica.ready_at),
            )
            self._probes[replica.name] = probes
        liveness, readiness = probes
        for probe in probes:
            if probe.sent_at is not None and now - probe.sent_at > probe.settings.timeout:
                probe.result(False, now)
            elif probe.sent_at is None and now >= probe.next_at:
                probe.sent_at = now

                def answered(header: object, _: bytes, probe: _Probe = probe) -> None:
                    ok = isinstance(header, dict) and header.get("kind") == m.PONG
                    if probe.sent_at is not None:
                        probe.result(ok, time.monotonic())

                replica.send({"kind": m.PING}, b"", answered)
        if liveness.failures >= liveness.settings.failure_threshold:
            _log.warning("replica %s failed its liveness probe; restarting it", replica.name)
            # Alive but not answering: Prefect calls a run whose infrastructure went silent Crashed.
            replica.error = {"type": "LivenessProbeFailed", "message": "liveness probe failed"}
            replica.failure = FailureKind.WORKER_CRASHED
            replica.kill()
            self._died(replica, now)
        elif replica.state is ReplicaState.READY and (
            readiness.failures >= readiness.settings.failure_threshold
        ):
            replica.state = ReplicaState.UNREADY
            replica.on_change(replica)
        elif replica.state is ReplicaState.UNREADY and (
            readiness.successes >= readiness.settings.success_threshold
        ):
            replica.state = ReplicaState.READY
            replica.on_change(replica)

    async def stop(self, grace_s: float = 5.0) -> None:
        """Ask every replica to shut down; kill what is still running after ``grace_s``."""
        self._stopping = True
        self._wake.set()
        self.pool.stop_batcher()
        for replica in self.pool.replicas:
            replica.request_shutdown()
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if all(r.poll() is not None or r.pid is None for r in self.pool.replicas):
                break
            await asyncio.sleep(0.05)
        for replica in self.pool.replicas:
            replica.kill()
            replica.poll()
            replica.state = ReplicaState.STOPPED
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _failure_text(replica: Replica) -> str:
    error = replica.error or {}
    where = error.get("where", "init")
    stage = "loading the scoring script" if where == "load" else "init()"
    text = (
        f"replica {replica.name} failed in {stage}: {error.get('type', 'Error')}: "
        f"{error.get('message', '')}"
    )
    if error.get("traceback"):
        text += "\n" + str(error["traceback"]).rstrip()
    return f"{text}\nReplica log: {replica.log_file}"
