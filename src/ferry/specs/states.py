"""Typed lifecycle states of jobs, deployments and replicas, and why a piece of work failed.

The values are the words users see (Azure's ``status`` and ``provisioning_state``) and the
words on disk (job journals, store rows): renaming a value breaks both, so add, never rename.
Each state ``str()``\\s and formats as its value, so it can go straight into JSON and messages.
"""

from __future__ import annotations

import enum

__all__ = [
    "TERMINAL_STATES",
    "DeploymentState",
    "FailureKind",
    "JobState",
    "OperationState",
    "ReplicaState",
    "WorkerState",
]


class _Word(str, enum.Enum):
    """A string enum whose ``str()`` and f-string form is its value (as ``StrEnum`` on 3.11)."""

    def __str__(self) -> str:
        return str(self.value)


class JobState(_Word):
    """A batch job's lifecycle: Queued → Preparing → Running → Completed | Failed | Canceled."""

    QUEUED = "Queued"
    PREPARING = "Preparing"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"


TERMINAL_STATES = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELED})


class DeploymentState(_Word):
    """``provisioning_state`` of an endpoint or a deployment (Azure's values)."""

    CREATING = "Creating"
    UPDATING = "Updating"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    DELETING = "Deleting"


class OperationState(_Word):
    """A long-running operation's ``status()``, as azure-core's ``LROPoller`` words it.

    Ferry's pollers raise when the operation fails, so these two are all one reports.
    """

    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"


class ReplicaState(_Word):
    """Where an online replica is in its life."""

    STARTING = "Starting"  # process started, init() not finished
    READY = "Ready"  # serving
    UNREADY = "Unready"  # alive but failing its readiness probe: no new traffic
    DEAD = "Dead"  # exited; waits for its restart
    FAILED = "Failed"  # init() failed
    STOPPED = "Stopped"


class WorkerState(_Word):
    """A batch worker's life as its job's journal records it (``worker`` events, on disk)."""

    STARTED = "started"
    READY = "ready"
    INIT_FAILED = "init_failed"  # its script's load or init() failed, or it exited before ready
    LOST = "lost"  # died, or was killed (a timeout), while it had work
    STOPPED = "stopped"  # asked to stop, or killed because the job ended


class FailureKind(_Word):
    """Why a mini-batch, a job or a replica failed.

    Modelled on Prefect's terminal states: a *Failed* run is the user's code going wrong (it
    raised, returned too little, or its ``init()`` failed), a *Crashed* one is the
    infrastructure's (the worker process died or was lost, or Ferry itself failed), and
    *TimedOut* is a run that did not finish in its time budget. :attr:`crashed` tells
    the first two apart; the job's ``status`` stays Azure's ``Failed`` in every case, with the
    kind beside it (``failure_kind``) and in front of its ``error``. The first four values are also
    journal event kinds on disk.
    """

    SCRIPT_ERROR = "script_error"  # run() raised
    TOO_FEW_ROWS = "too_few_rows"  # run() returned fewer results than it got files
    TIMEOUT = "timeout"  # run() (or a replica's answer) past its timeout
    WORKER_CRASHED = "worker_crashed"  # the worker process died or was lost
    INIT_FAILED = "init_failed"  # the script's load or init() raised, hung or exited
    PREPARATION_FAILED = "preparation_failed"  # before any worker: environment, inputs, spec
    INTERNAL_ERROR = "internal_error"  # Ferry's own engine or server failed

    @property
    def crashed(self) -> bool:
        """The infrastructure failed, not the user's code (Prefect's *Crashed*)."""
        return self in (FailureKind.WORKER_CRASHED, FailureKind.INTERNAL_ERROR)
