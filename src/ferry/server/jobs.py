"""Batch jobs in the server: queue, prepare, run on the engine, record states, recover on restart.

States follow ``Queued → Preparing → Running → Completed | Failed | Canceled``. The record in the
store's ``jobs`` table changes only on transitions, each one a single atomic update; live counts
come from the job folder's ``progress.json``. A failed job records its ``failure_kind`` (a
:class:`~ferry.specs.states.FailureKind`), which also leads its ``error``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import threading
import uuid
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferry.batch.definition import JobDefinition, JobLayout
from ferry.batch.engine import resume_job, run_job
from ferry.errors import ConflictError, FerryError, InvalidInputError
from ferry.server.compute_choice import compute_for
from ferry.server.invoke_checks import check_invoke
from ferry.server.job_prepare import apply_overrides, prepare_job
from ferry.server.secret_env import keyvault_env, resolve_secret_refs
from ferry.specs.names import ENDPOINT_NAME
from ferry.specs.states import TERMINAL_STATES, FailureKind, JobState
from ferry.specs.workspace import DEFAULT_DATASTORE
from ferry.store.base import JobRecord
from ferry.workers.data_agent import ACCESS_ENV, data_access

if TYPE_CHECKING:
    from ferry.server.workspace import Workspace

__all__ = ["JobService"]

_TYPE = "batch"
_UNFINISHED = frozenset(JobState) - TERMINAL_STATES
_log = logging.getLogger("ferry.jobs")


class JobService:
    """Owns every batch job of the workspace; one instance per server process."""

    def __init__(self, workspace: Workspace, *, max_parallel_jobs: int = 2) -> None:
        self._ws = workspace
        self._pool = ThreadPoolExecutor(max_parallel_jobs, thread_name_prefix="ferry-job")
        self._cancel: dict[str, threading.Event] = {}

    # -- queries ----------------------------------------------------------------------------
    def get(self, name: str) -> dict[str, Any]:
        return self._view(self._ws.store.jobs.get(name))

    def list(
        self,
        endpoint: str | None = None,
        deployment: str | None = None,
        *,
        statuses: Collection[JobState] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Jobs newest first, of one endpoint (an indexed query) and deployment if given; only
        the newest ``limit`` when given (the studio's recent jobs read no more rows)."""
        records = self._ws.store.jobs.list(
            endpoint=endpoint or None,
            deployment=deployment or None,
            statuses=statuses,
            limit=limit,
        )
        return [self._view(record, with_progress=False) for record in records]

    def folder(self, name: str) -> Path:
        return self._ws.layout.blobstore / "azureml" / name

    def _view(self, record: JobRecord, *, with_progress: bool = True) -> dict[str, Any]:
        name = record.name
        view = {
            "name": name,
            "type": record.kind,
            "endpoint_name": record.endpoint,
            "deployment_name": record.deployment,
            "status": record.status.value,
            **record.body,
            "created_at": record.created_at,
        }
        layout = JobLayout(self.folder(name))
        view["outputs"] = {
            "score": record.body.get("output_uri")
            or f"azureml://datastores/{DEFAULT_DATASTORE}/paths/azureml/{name}/named-outputs/score"
        }
        if with_progress and layout.progress.is_file():
            # A file being rewritten fails to parse; the next poll reads it.
            with contextlib.suppress(OSError, ValueError):
                view["progress"] = json.loads(layout.progress.read_text(encoding="utf-8"))
        return view

    # -- commands ---------------------------------------------------------------------------
    def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        """Create a job from an invoke request and queue it."""
        endpoint = request["endpoint_name"]
        deployment = self._ws.batch.route(endpoint, request.get("deployment_name"))
        # Refuse bad overrides and unresolvable inputs now, before a job exists.
        settings = apply_overrides(deployment, request.get("overrides", {}))
        check_invoke(self._ws, deployment, settings, request["input"])
        name = request.get("job_name") or f"batchjob-{uuid.uuid4().hex[:12]}"
        ENDPOINT_NAME.check(name, field="job_name") if request.get("job_name") else None
        job = {
            "input": request["input"],
            "overrides": request.get("overrides", {}),
            "output_path": request.get("output_path"),
            "allow_reuse": bool(request.get("allow_reuse", False)),
            # Recorded as sent (a published pipeline's ExperimentName, Azure's Tags).
            "experiment_name": request.get("experiment_name"),
            "description": request.get("description"),
            "tags": dict(request.get("tags") or {}),
            "notices": [],
            "error": None,
            "failure_kind": None,
        }
        self._check_output_path(job)
        try:
            self._ws.store.jobs.create(
                name,
                kind=_TYPE,
                status=JobState.QUEUED,
                endpoint=endpoint,
                deployment=deployment.name,
                body=job,
            )
        except ConflictError as exc:  # the insert itself decides, also between two servers
            raise ConflictError(
                f"a job named {name!r} exists already; choose another --job-name."
            ) from exc
        self._start(name)
        return self.get(name)

    def cancel(self, name: str) -> dict[str, Any]:
        job = self.get(name)
        if JobState(job["status"]) in TERMINAL_STATES:
            return job
        event = self._cancel.get(name)
        if event is not None:
            event.set()
        # Only a job that is still queued: one that started ends itself when it sees the event.
        self._update(name, JobState.CANCELED, when={JobState.QUEUED}, ended_at=_now())
        return self.get(name)

    def resume(self, name: str) -> dict[str, Any]:
        """Rerun only the mini-batches that did not succeed; keep the successful outputs."""
        job = self.get(name)
        if JobState(job["status"]) not in TERMINAL_STATES:
            raise ConflictError(f"job {name!r} is {job['status']}; only a finished job resumes.")
        if job["status"] == JobState.COMPLETED.value and not job.get("progress", {}).get(
            "items_failed"
        ):
            raise InvalidInputError(f"job {name!r} completed with no failures; nothing to resume.")
        if not JobLayout(self.folder(name)).definition.is_file():
            raise InvalidInputError(
                f"job {name!r} failed before it started running; invoke the endpoint again."
            )
        self._update(name, JobState.QUEUED, error=None, failure_kind=None, ended_at=None)
        self._start(name, retry_failed=True)
        return self.get(name)

    def continue_unfinished(self) -> None:
        """After a restart, carry on with every job that was not finished."""
        for job in self.list(statuses=_UNFINISHED):
            _log.info("resuming job %s after a server restart", job["name"])
            self._start(job["name"])

    def shutdown(self) -> None:
        for event in self._cancel.values():
            event.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- running ----------------------------------------------------------------------------
    def _start(self, name: str, *, retry_failed: bool = False) -> None:
        self._cancel[name] = threading.Event()
        self._pool.submit(self._run, name, retry_failed)

    def _run(self, name: str, retry_failed: bool) -> None:
        cancel = self._cancel[name]
        try:
            self._run_phases(name, cancel, retry_failed)
        except FerryError as exc:  # the environment, the model, the input, a secret ...
            self._fail(name, exc.message, FailureKind.PREPARATION_FAILED)
        except Exception as exc:  # a bug must still leave a clear record, not a stuck job
            _log.exception("job %s crashed", name)
            self._fail(
                name,
                f"internal error ({type(exc).__name__}: {exc}); see the server log",
                FailureKind.INTERNAL_ERROR,
            )
        finally:
            self._cancel.pop(name, None)

    def _run_phases(self, name: str, cancel: threading.Event, retry_failed: bool) -> None:
        job = self.get(name)
        if cancel.is_set():
            self._update(name, JobState.CANCELED, ended_at=_now())
            return
        folder = self.folder(name)
        layout = JobLayout(folder)
        layout.logs.mkdir(parents=True, exist_ok=True)
        self._update(name, JobState.PREPARING, started_at=job.get("started_at") or _now())
        with (layout.logs / "prepare.txt").open("a", encoding="utf-8") as prep_log:

            def log(line: str) -> None:
                prep_log.write(line.rstrip("\n") + "\n")

            prepared = prepare_job(self._ws, job, folder, log)
        fingerprint = _digest(prepared.fingerprint)
        self._update(
            name,
            notices=prepared.notices,
            fingerprint=fingerprint,
            output_uri=prepared.definition.output_uri,
        )
        if job["allow_reuse"] and self._reuse(name, fingerprint):
            return
        if not layout.definition.is_file():
            prepared.definition.save(layout.definition)
        self._update(name, JobState.RUNNING)
        # Resuming keeps successes and gives failed mini-batches fresh attempts.
        engine = resume_job if retry_failed else run_job
        definition = JobDefinition.load(layout.definition)
        secret_env = resolve_secret_refs(definition.environment_variables, self._ws.secrets)
        # The Key Vault shim's secrets, and the command its refusal quotes to grant another.
        grant = (
            f"ferry batch-deployment update --endpoint-name {job['endpoint_name']} "
            f"--name {job['deployment_name']}"
        )
        secret_env |= keyvault_env(definition.secret_names, self._ws.secrets, grant)
        if definition.datastores:  # the workers' data agents open these where they run
            stores = {n: self._ws.datastores.credentials_of(n) for n in definition.datastores}
            secret_env[ACCESS_ENV] = data_access(stores, definition.output_uri)
        deployment = self._ws.batch.deployment_spec(job["endpoint_name"], job["deployment_name"])
        compute = compute_for(self._ws, deployment)
        outcome = engine(folder, compute=compute, cancel=cancel, secret_env=secret_env)
        output_uri = definition.output_uri or job.get("output_path")
        if outcome.state is JobState.COMPLETED and output_uri:
            self._publish(output_uri, layout)
        if definition.output_uri:
            # A worker killed mid-commit left a temporary upload there (its mini-batch's retry
            # committed the file); no worker writes there any more.
            store, path = self._ws.datastores.resolve(definition.output_uri)
            store.sweep(path)
        done = outcome.state is JobState.COMPLETED
        self._update(
            name,
            outcome.state,
            error=None if done else _error_text(outcome.message, outcome.failure),
            failure_kind=outcome.failure,
            ended_at=_now(),
        )

    def _reuse(self, name: str, fingerprint: str) -> bool:
        for other in self.list(statuses={JobState.COMPLETED}):
            if (
                other["name"] != name
                and other.get("fingerprint") == fingerprint
                and not other.get("reused_from")
            ):
                source = JobLayout(self.folder(other["name"]))
                shutil.copytree(
                    source.root / "named-outputs",
                    self.folder(name) / "named-outputs",
                    dirs_exist_ok=True,
                )
                if source.progress.is_file():
                    shutil.copy2(source.progress, JobLayout(self.folder(name)).progress)
                notice = (
                    f"reused the outputs of identical completed job {other['name']} (allow_reuse)"
                )
                job = self.get(name)
                self._update(
                    name,
                    JobState.COMPLETED,
                    reused_from=other["name"],
                    notices=[*job.get("notices", []), notice],
                    ended_at=_now(),
                )
                return True
        return False

    def _check_output_path(self, job: dict[str, Any]) -> None:
        uri = job.get("output_path")
        if not uri:
            return
        store, path = self._ws.datastores.resolve(uri)
        file_name = job["overrides"].get("output_file_name", "predictions.csv")
        if store.exists(f"{path}/{file_name}".lstrip("/")):
            raise ConflictError(
                f"{uri} already holds {file_name}; Ferry never overwrites outputs: choose another "
                "--output-path or --set output_file_name=<new name>.",
                details={"field": "output_path"},
            )

    def _publish(self, uri: str, layout: JobLayout) -> None:
        """Commit the job folder's outputs (``predictions.csv``, and the output files unless the
        workers committed them there themselves) to the output location ``uri``."""
        store, path = self._ws.datastores.resolve(uri)
        for item in sorted(layout.outputs.iterdir()):
            store.commit(item, f"{path}/{item.name}".lstrip("/"))

    def _fail(self, name: str, message: str, failure: FailureKind) -> None:
        self._update(
            name,
            JobState.FAILED,
            error=_error_text(message, failure),
            failure_kind=failure,
            ended_at=_now(),
        )
        layout = JobLayout(self.folder(name))
        layout.logs.mkdir(parents=True, exist_ok=True)
        error_file = layout.logs / "job_error.txt"
        if not error_file.exists():
            error_file.write_text(message + "\n", encoding="utf-8")

    def _update(
        self,
        name: str,
        status: JobState | None = None,
        *,
        when: Collection[JobState] | None = None,
        **changes: Any,
    ) -> bool:
        """One atomic update of the job's record (see JobRepository.update)."""
        return self._ws.store.jobs.update(name, status=status, changes=changes, when=when)


def _error_text(message: str, failure: FailureKind | None) -> str:
    """A failed job's ``error``: its failure kind first, as job_error.txt lists mini-batches."""
    return f"{failure}: {message}" if failure is not None else message


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _digest(data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
