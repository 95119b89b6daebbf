"""A deployment's replicas and the work waiting for them: admission, dispatch, queueing.

Each replica takes up to ``capacity`` units of work at once (``max_concurrent_requests_per_
instance`` spread over its ``WORKER_COUNT`` processes). Work goes to the ready replica with the
fewest in flight; when all are full it waits in a FIFO queue for at most ``max_queue_wait_ms``
(429 after). With no ready replica at all, work fails at once with 503: nothing waits on a
replica that is down. A unit is one request, or with ``batching`` a batch of requests.

A unit still unanswered ``request_timeout_ms`` after it was sent (its client already got 408)
marks the replica *overdue*: it gets no new work. If ``run()`` has still not returned after a
further grace (:func:`hang_grace_s`), the replica is killed and the supervisor restarts it, so a
``run()`` that never returns costs one restart instead of 429s until the liveness probe fails.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable

from ferry.errors import ErrorCode, GatewayError
from ferry.online.batcher import Batcher
from ferry.online.metrics import Metrics
from ferry.online.plan import ReplicaPlan
from ferry.online.replica import Replica
from ferry.online.work import Batch, Single
from ferry.specs.online import OnlineDeploymentSpec
from ferry.specs.states import ReplicaState

__all__ = ["DeploymentPool", "hang_grace_s"]

Work = Single | Batch
_SERVING = (ReplicaState.READY,)
_MAX_GRACE_S = 30.0


def hang_grace_s(timeout_s: float) -> float:
    """How long past its timeout ``run()`` may take before its replica is restarted.

    One more timeout (at most 30 s): a slow ``run()`` that finishes soon after is not worth
    a restart (``init()`` again), one that takes twice its budget is treated as hung.
    """
    return min(timeout_s, _MAX_GRACE_S)


class _Watch:
    """The deadline of one unit sent to a replica (cancelled by its answer)."""

    __slots__ = ("answered", "generation", "overdue", "timer")

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.answered = False
        self.overdue = False
        self.timer: asyncio.TimerHandle | None = None


class DeploymentPool:
    """The running side of one online deployment."""

    def __init__(
        self,
        endpoint: str,
        spec: OnlineDeploymentSpec,
        plan: ReplicaPlan,
        replicas: list[Replica],
        metrics: Metrics,
    ) -> None:
        self.endpoint = endpoint
        self.name = spec.name
        self.spec = spec
        self.plan = plan
        self.replicas = replicas
        self.metrics = metrics
        settings = spec.request_settings
        self.timeout_s = settings.request_timeout_ms / 1000
        self.queue_wait_s = settings.max_queue_wait_ms / 1000
        batch = spec.batching.max_batch_size if spec.batching else 1
        # Azure answers 429 past 2 x max_concurrent x instances; a batch slot holds a batch.
        self.max_in_flight = (
            2 * settings.max_concurrent_requests_per_instance * spec.instance_count * batch
        )
        self.max_body = int(spec.max_request_body_mb * 1024 * 1024)
        self.in_flight = 0
        self.on_replica_change: Callable[[Replica], None] = lambda _: None
        self._queue: deque[Work] = deque()
        self._batcher = (
            Batcher(self.dispatch, spec.batching, idle=self._has_idle_replica)
            if spec.batching
            else None
        )
        for replica in replicas:
            replica.on_change = self._replica_changed

    @staticmethod
    def capacity_per_process(spec: OnlineDeploymentSpec) -> int:
        """Concurrent units per worker process."""
        concurrent = spec.request_settings.max_concurrent_requests_per_instance
        return max(1, math.ceil(concurrent / spec.worker_count))

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    @property
    def ready_replicas(self) -> int:
        return sum(1 for r in self.replicas if r.state in _SERVING)

    # -- requests -------------------------------------------------------------------------------
    def submit(self, item: Single) -> None:
        """Score one request (through the batcher when batching is on)."""
        if self._batcher is not None:
            if not self.ready_replicas:
                item.fail(self.not_ready())
                return
            self._batcher.add(item)
        else:
            self.dispatch(item)

    def dispatch(self, work: Work) -> None:
        replica = self._free_replica()
        if replica is not None:
            self._send(replica, work)
            return
        if not self.ready_replicas:
            work.fail(self.not_ready())
            return
        work.enqueued_at = time.monotonic()
        self._queue.append(work)
        asyncio.get_running_loop().call_later(self.queue_wait_s, self._queue_expired, work)

    def _free_replica(self) -> Replica | None:
        best: Replica | None = None
        for replica in self.replicas:
            if (
                replica.state is ReplicaState.READY
                and not replica.overdue
                and replica.in_flight < replica.capacity
                and (best is None or replica.in_flight < best.in_flight)
            ):
                best = replica
        return best

    def _has_idle_replica(self) -> bool:
        """A ready replica with nothing in flight (and no queued work waiting for it)."""
        return not self._queue and any(
            r.state is ReplicaState.READY and r.in_flight == 0 and not r.overdue
            for r in self.replicas
        )

    def _send(self, replica: Replica, work: Work) -> None:
        header, body = work.frame()
        if isinstance(work, Batch):
            if not work.items:
                return
            self.metrics.batch(self.endpoint, self.name, len(work.items))
        replica.in_flight += 1
        watch = _Watch(replica.generation)
        watch.timer = asyncio.get_running_loop().call_later(
            self.timeout_s, self._overdue, replica, watch
        )

        def reply(answer: dict[str, object] | None, data: bytes) -> None:
            replica.in_flight -= 1
            watch.answered = True
            if watch.timer is not None:
                watch.timer.cancel()
            if watch.overdue and replica.generation == watch.generation:
                replica.overdue -= 1
            work.complete(answer, data, replica.name)
            if self._queue:
                self._drain()
            elif self._batcher is not None:
                self._batcher.replica_idle()

        replica.send(header, body, reply)

    def _overdue(self, replica: Replica, watch: _Watch) -> None:
        """A unit passed request_timeout_ms on ``replica``: no new work there, restart if hung."""
        if watch.answered or replica.generation != watch.generation:
            return
        watch.overdue = True
        replica.overdue += 1
        grace = hang_grace_s(self.timeout_s)
        watch.timer = asyncio.get_running_loop().call_later(grace, self._hung, replica, watch)

    def _hung(self, replica: Replica, watch: _Watch) -> None:
        if watch.answered or replica.generation != watch.generation:
            return
        if replica.state not in (ReplicaState.READY, ReplicaState.UNREADY):
            return
        waited = self.timeout_s + hang_grace_s(self.timeout_s)
        replica.hang(
            f"run() did not return within {waited * 1000:.0f} ms (request_timeout_ms "
            f"{self.timeout_s * 1000:.0f} + the same again as grace); the replica was restarted. "
            "Make run() return within request_timeout_ms, or raise it (at most 180000)."
        )

    def _drain(self) -> None:
        while self._queue:
            replica = self._free_replica()
            if replica is None:
                return
            work = self._queue.popleft()
            if not work.done:
                self._send(replica, work)

    def _queue_expired(self, work: Work) -> None:
        if work.done:
            return
        try:
            self._queue.remove(work)
        except ValueError:
            return  # sent meanwhile
        waited = time.monotonic() - work.enqueued_at
        work.fail(
            GatewayError(
                ErrorCode.TOO_MANY_REQUESTS,
                f"deployment {self.name!r} is busy: this request waited {waited * 1000:.0f} ms "
                f"for a free replica (max_queue_wait_ms {self.queue_wait_s * 1000:.0f}); retry "
                "later, or raise instance_count or request_settings."
                "max_concurrent_requests_per_instance.",
            )
        )

    def not_ready(self) -> GatewayError:
        states = ", ".join(f"{r.name}: {r.state.value}" for r in self.replicas)
        return GatewayError(
            ErrorCode.NOT_READY,
            f"deployment {self.name!r} of endpoint {self.endpoint!r} has no ready replica "
            f"({states}); retry shortly. A replica that keeps failing shows why in "
            f"`ferry online-deployment get-logs --name {self.name} --endpoint-name "
            f"{self.endpoint}`.",
        )

    # -- replicas -------------------------------------------------------------------------------
    def _replica_changed(self, replica: Replica) -> None:
        if replica.state is ReplicaState.READY:
            self._drain()
        elif not self.ready_replicas:
            error = self.not_ready()
            while self._queue:
                self._queue.popleft().fail(error)
        self.on_replica_change(replica)

    def stop_batcher(self) -> None:
        if self._batcher is not None:
            self._batcher.close(self.not_ready())
