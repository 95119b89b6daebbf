"""One replica: a worker process running the user's ``score.py``, and its frame channel.

The process is started, watched and killed through the deployment's
:class:`~ferry.workers.compute.Compute`, as batch workers are.

Requests on the channel carry ids; answers are matched by id, so several requests may be in
flight on one replica (the runtime serves them one after another, so the next one is already
waiting when the previous ends). A replica whose connection or process dies fails everything in
flight at once: no request waits on a dead process.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ferry.online.channel import Channel, Hub
from ferry.online.plan import ReplicaPlan
from ferry.runtime import messages as m
from ferry.specs.states import FailureKind, ReplicaState  # ReplicaState: re-exported
from ferry.workers.compute import WorkerProcess, describe_exit

__all__ = ["Replica", "ReplicaState", "Reply"]

Reply = Callable[[dict[str, Any] | None, bytes], None]
"""Called with the answer frame, or ``(None, b"")`` when the replica died first."""


class Replica:
    """A worker process plus the requests in flight on it."""

    def __init__(self, name: str, plan: ReplicaPlan, hub: Hub, capacity: int) -> None:
        self.name = name
        self.capacity = capacity
        self.state = ReplicaState.STOPPED
        self.in_flight = 0
        self.overdue = 0  # units past request_timeout_ms (see DeploymentPool): no new work
        self.restarts = 0
        self.generation = 0
        self.error: dict[str, Any] | None = None
        #: What kind of failure ``error`` (or the last exit) was; None while all is well.
        self.failure: FailureKind | None = None
        self.exit_code: int | None = None
        self.spawned_at = 0.0
        self.ready_at = 0.0
        self.on_change: Callable[[Replica], None] = lambda _: None
        self._plan = plan
        self._hub = hub
        self._proc: WorkerProcess | None = None
        self._channel: Channel | None = None
        self._pending: dict[int, Reply] = {}
        self._next_id = 0
        self._worker_id = ""

    @property
    def log_file(self) -> Path:
        return self._plan.log_dir / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # -- process --------------------------------------------------------------------------------
    def spawn(self) -> None:
        """Start (or restart) the worker process; it connects back and says ready."""
        self.generation += 1
        # Unique per launch: an update starts a new copy of a replica with the same name and
        # generation while the old one stops, and the hub must tell their connections apart.
        self._worker_id = f"{self.name}.{self.generation}.{uuid.uuid4().hex[:8]}"
        self._hub.expect(self._worker_id, self, self._plan.worker.secret_env.get(m.TOKEN_ENV, ""))
        self.overdue = 0
        self._plan.log_dir.mkdir(parents=True, exist_ok=True)
        spec = replace(
            self._plan.worker,
            worker_id=self._worker_id,
            # The service sets where this deployment's Compute's workers connect (the unix
            # socket, or TCP for a cluster's nodes); a plan without one uses the socket.
            connect=self._plan.worker.connect or self._hub.address,
            env={**self._plan.worker.env, "FERRY_WORKER_ID": self.name},
            # stdout and stderr both go to the replica's one log file.
            stdout=self.log_file,
            stderr=self.log_file,
        )
        self.exit_code = None  # the last error stays visible until the replica is ready again
        self.spawned_at = time.monotonic()
        self._log(f"starting replica {self.name}")
        try:
            self._proc = self._plan.compute.start(spec)
        except OSError as exc:  # e.g. the environment's interpreter was deleted
            self._proc = None
            self.failure = FailureKind.INIT_FAILED
            self.error = {
                "type": type(exc).__name__,
                "message": f"cannot start {spec.python}: {exc}",
                "traceback": "",
                "where": "load",
            }
            self.state = ReplicaState.FAILED
            return
        self.state = ReplicaState.STARTING

    def poll(self) -> int | None:
        """The exit code once the process ended (it is reaped), else ``None``; the first time,
        how it ended goes into the replica's log (``get-logs`` shows it)."""
        if self._proc is None:
            return None
        code = self._proc.poll()
        if code is not None and self.exit_code is None:
            self.exit_code = code
            self._log(f"replica {self.name} {self.describe_exit()}")
        return code

    def kill(self) -> None:
        """SIGKILL the process group; pending requests fail when the channel closes."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
        self._drop_channel()

    def describe_exit(self) -> str:
        """How the process ended, in the words batch workers' exits use (``was killed by
        SIGKILL``, ``exited with code 1``)."""
        return describe_exit(self.exit_code)

    def _log(self, message: str) -> None:
        """A line of Ferry's own in the replica's log file, between the script's output."""
        with contextlib.suppress(OSError), self.log_file.open("ab") as log:
            stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
            log.write(f"--- {stamp} ferry: {message} ---\n".encode())

    def hang(self, message: str) -> None:
        """``run()`` does not return: kill the process and leave it to be restarted."""
        self.error = {"type": "RunTimeout", "message": message, "traceback": "", "where": "run"}
        self.failure = FailureKind.TIMEOUT
        self._log(message)
        self.kill()  # fails whatever else waits on this process with 503 replica_lost
        self.state = ReplicaState.DEAD
        self.on_change(self)

    def request_shutdown(self) -> None:
        """Ask the worker to call shutdown() and exit (it does once it is idle)."""
        if self._channel is not None:
            self._channel.send({"kind": m.SHUTDOWN})

    def _drop_channel(self) -> None:
        self._hub.forget(self._worker_id)
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()
        self._fail_pending()

    # -- frames ---------------------------------------------------------------------------------
    def send(self, header: dict[str, Any], body: bytes, reply: Reply) -> None:
        """Send a request frame; ``reply`` gets its answer."""
        channel = self._channel
        if channel is None:
            reply(None, b"")
            return
        self._next_id += 1
        header["id"] = self._next_id
        self._pending[self._next_id] = reply
        channel.send(header, body)

    def attach(self, channel: Channel, header: dict[str, Any]) -> None:
        self._channel = channel
        if header.get("kind") == m.READY:
            self.state = ReplicaState.READY
            self.ready_at = time.monotonic()
            self.error = None
            self.failure = None
        else:
            self.error = header.get("error") or {"message": f"unexpected first frame {header}"}
            self.failure = FailureKind.INIT_FAILED
            self.state = ReplicaState.FAILED
        self.on_change(self)

    def on_frame(self, header: dict[str, Any], body: bytes) -> None:
        reply = self._pending.pop(header.get("id", -1), None)
        if reply is not None:
            reply(header, body)

    def on_lost(self, channel: Channel) -> None:
        if channel is not self._channel:
            return  # a previous process's connection, closed after it was replaced
        self._channel = None
        self._fail_pending()
        if self.state in (ReplicaState.READY, ReplicaState.UNREADY, ReplicaState.STARTING):
            self.state = ReplicaState.DEAD
            self.on_change(self)

    def _fail_pending(self) -> None:
        pending, self._pending = self._pending, {}
        for reply in pending.values():
            reply(None, b"")

    def view(self) -> dict[str, Any]:
        """The replica as ``show`` reports it."""
        return {
            "name": self.name,
            "state": self.state.value,
            "pid": self.pid,
            "in_flight": self.in_flight,
            "restarts": self.restarts,
            "exit_code": self.exit_code,
            "error": self.error,
            "failure_kind": self.failure,
            "log_file": str(self.log_file),
        }
