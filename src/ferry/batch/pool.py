"""The job's worker processes: starting them, naming them, and counting the ones that never start.

Workers are named ``process000``, ``process001``, ... in start order across every session of a
job (a replacement gets a new name and new log files, as on Azure). A worker whose script fails to
load, whose ``init()`` raises, or that dies or hangs before it is ready is an *init failure*; after
``3 x worker_count`` of them the job fails (ParallelRunStep's rule), quoting the last error.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferry.batch.channel import Channel
from ferry.batch.definition import JobDefinition, JobLayout
from ferry.batch.scheduler import Task
from ferry.workers.compute import Compute, WorkerProcess
from ferry.workers.spec import WorkerResources, WorkerSpec

__all__ = ["InitFailure", "Worker", "WorkerPool", "stderr_tail"]

INIT_FAILURES_PER_WORKER = 3


@dataclass
class Worker:
    """One worker process and its connection, with the tasks sent to it (in order)."""

    id: str
    proc: WorkerProcess
    started_at: float
    channel: Channel | None = None
    ready: bool = False
    inflight: deque[Task] = field(default_factory=deque)
    #: When the task at the head of ``inflight`` began running (its timeout counts from here).
    head_since: float = 0.0


@dataclass
class InitFailure:
    """Why a worker never became ready: its error as data and where its log is."""

    worker: str
    error: dict[str, Any]
    log: str


def stderr_tail(path: Path, limit: int = 4096) -> str:
    """The last non-empty line of a worker's stderr log ("" when there is none)."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - limit))
            lines = f.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


class WorkerPool:
    """Starts workers through a :class:`Compute` and keeps the init-failure count."""

    def __init__(
        self,
        definition: JobDefinition,
        layout: JobLayout,
        compute: Compute,
        connect: str,
        first_index: int,
        secret_env: Mapping[str, str] | None = None,
    ) -> None:
        self.definition = definition
        # Resolved secrets: in memory only, never in job.json (see ferry.workers.spec).
        self._secret_env = dict(secret_env or {})
        self.layout = layout
        self.compute = compute
        self.connect = connect
        self.workers: dict[str, Worker] = {}
        self.init_failures: list[InitFailure] = []
        self.init_failure_limit = INIT_FAILURES_PER_WORKER * definition.worker_count
        self._next = first_index

    def start(self) -> Worker:
        """Start one more worker.

        Raises:
            OSError: the environment's interpreter cannot be started.
        """
        d = self.definition
        worker_id = f"process{self._next:03d}"
        self._next += 1
        env = {"AZUREML_BI_OUTPUT_PATH": str(self.layout.outputs)}
        if d.model_dir:
            env["AZUREML_MODEL_DIR"] = d.model_dir
        env["FERRY_LOG_DIR"] = str(self.layout.entry_script_log(worker_id))
        env["FERRY_JOB_DIR"] = str(self.layout.root)  # identifies it if an engine dies
        if d.inputs:  # Run.input_datasets of the azureml.core shim
            env["FERRY_INPUT_DATASETS"] = json.dumps({d.input_name: d.inputs[0]})
        env.update(d.environment_variables)
        spec = WorkerSpec(
            worker_id=worker_id,
            python=d.python,
            entry_script=str(d.entry_script),
            code_dir=d.code_dir,
            connect=self.connect,
            mode="batch",
            logging_level=d.logging_level,
            env=env,
            secret_env=self._secret_env,
            user_args=tuple(d.program_arguments),
            stdout=self.layout.user_stdout(worker_id),
            stderr=self.layout.user_stderr(worker_id),
            resources=WorkerResources(cpus=d.cpus_per_worker, gpus=d.gpus_per_worker),
        )
        proc = self.compute.start(spec)
        worker = Worker(worker_id, proc, time.monotonic())
        self.workers[worker_id] = worker
        return worker

    @property
    def inflight_count(self) -> int:
        return sum(len(w.inflight) for w in self.workers.values())

    def stderr_path(self, worker_id: str) -> str:
        """The worker's stderr log, relative to the job folder (for messages)."""
        return str(self.layout.user_stderr(worker_id).relative_to(self.layout.root))

    def init_failed(self, worker: Worker, error: dict[str, Any]) -> bool:
        """Count an init failure; returns True once the limit is reached."""
        self.init_failures.append(InitFailure(worker.id, error, self.stderr_path(worker.id)))
        return len(self.init_failures) >= self.init_failure_limit

    def init_failure_message(self) -> str:
        last = self.init_failures[-1]
        stage = {
            "load": "the entry script failed to load",
            "init": "init() raised",
        }.get(str(last.error.get("where")), "the worker failed to start")
        return (
            f"{stage} in {len(self.init_failures)} worker processes (the limit is "
            f"{INIT_FAILURES_PER_WORKER} x {self.definition.worker_count} workers), so the job "
            f"stopped. Last error, from {last.worker} (see {last.log}): "
            f"{last.error.get('type')}: {last.error.get('message')}"
        )

    def remove(self, worker: Worker, grace: float = 2.0) -> int | None:
        """Kill a worker (its whole process group), reap it and forget it; returns its status.

        Its connection is the hub's to close (:meth:`ferry.batch.hub.Hub.forget`).
        """
        worker.proc.kill()
        code = worker.proc.wait(grace)
        self.workers.pop(worker.id, None)
        return code
