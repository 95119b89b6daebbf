"""Batch endpoints, deployments and jobs in the SDK, named as in ``azure.ai.ml``."""

from __future__ import annotations

import builtins
import tempfile
import time
from pathlib import Path
from typing import Any

from ferry.archive import safe_extract
from ferry.client.batch_entities import (
    BatchDeployment,
    BatchEndpoint,
    BatchJob,
    BatchRetrySettings,
    ModelBatchDeployment,
    ModelBatchDeploymentSettings,
    spec_body,
)
from ferry.client.entities import Code, Environment, Input, Model, Output, from_server
from ferry.client.inline_assets import InlineAssets
from ferry.client.job_stream import PlainDisplay, follow_job, result_files
from ferry.client.operations import AssetOperations
from ferry.client.poller import Poller
from ferry.client.staging import InputStager
from ferry.client.transport import Transport
from ferry.errors import FerryError, InvalidInputError, NotFoundError
from ferry.specs.batch import BatchDeploymentSpec, BatchEndpointSpec, JobState
from ferry.specs.loader import is_uri

__all__ = [
    "BatchDeployment",
    "BatchDeploymentOperations",
    "BatchEndpoint",
    "BatchEndpointOperations",
    "BatchJob",
    "BatchRetrySettings",
    "JobOperations",
    "ModelBatchDeployment",
    "ModelBatchDeploymentSettings",
]


def _job(data: dict[str, Any], transport: Transport) -> BatchJob:
    job = BatchJob.model_validate(data)
    job._raw = dict(data)
    # Ferry has no studio yet: the page Azure's studio_url opens is the job's REST URL here.
    job.studio_url = f"{transport.base_url}/api/v1/jobs/{job.name}"
    return job


class BatchEndpointOperations:
    """``ml_client.batch_endpoints``."""

    def __init__(self, transport: Transport, stager: InputStager) -> None:
        self._t = transport
        self._stager = stager

    def begin_create_or_update(self, endpoint: BatchEndpointSpec) -> Poller[BatchEndpoint]:
        """Create or update; an endpoint from :meth:`get`, changed, may be sent back."""
        body = spec_body(endpoint, BatchEndpointSpec)
        data = self._t.json("POST", "/api/v1/batch-endpoints", json=body)
        return Poller.completed(from_server(BatchEndpoint, data))

    def get(self, name: str) -> BatchEndpoint:
        data = self._t.json("GET", f"/api/v1/batch-endpoints/{name}")
        return from_server(BatchEndpoint, data)

    def list(self) -> builtins.list[BatchEndpoint]:
        data = self._t.json("GET", "/api/v1/batch-endpoints")["value"]
        return [from_server(BatchEndpoint, item) for item in data]

    def begin_delete(self, name: str) -> Poller[None]:
        self._t.request("DELETE", f"/api/v1/batch-endpoints/{name}")
        return Poller.completed(None)

    def invoke(
        self,
        endpoint_name: str,
        deployment_name: str | None = None,
        *,
        input: Input | None = None,
        inputs: dict[str, Input] | None = None,
        output_path: str | None = None,
        job_name: str | None = None,
        params_override: builtins.list[dict[str, Any]] | None = None,
        outputs: dict[str, Output] | None = None,
        experiment_name: str | None = None,
        allow_reuse: bool = False,
        in_place: bool = False,
    ) -> BatchJob:
        """Start a job. A local ``input.path`` is staged into the default datastore first
        (linked by a local server, else uploaded once per content), unless ``in_place`` asks the
        (local) server to read the folder where it is.

        ``params_override`` takes Azure's keys, e.g. ``[{"mini_batch_size": 5},
        {"compute.instance_count": 2}, {"output_file_name": "x.csv"}, {"output_dataset.path":
        "..."}, {"environment_variables.X": "1"}]``; ``outputs={"score": Output(path=...)}``
        sets where the results go, as ``output_path`` does.
        """
        output_path = _score_output(outputs, output_path)
        input_name = "input_data"  # Azure's name for a model deployment's one input
        if input is None and inputs:
            if len(inputs) != 1:
                raise InvalidInputError("a model batch deployment takes exactly one input.")
            input_name, input = next(iter(inputs.items()))  # Run.input_datasets' key
        if input is None:
            raise InvalidInputError("invoke needs input=Input(path=..., type=...).")
        path = input.path
        if not is_uri(path):
            local = Path(path).expanduser().resolve()
            if not local.exists():
                raise InvalidInputError(
                    f"input {path!r} does not exist.", details={"field": "input"}
                )
            # Staged by content into the default datastore, with no data version (as Azure's
            # SDK does), so a refused invoke leaves none behind and a re-invoke sends nothing.
            path = f"file://{local}" if in_place else self._stager.stage(local)
        body: dict[str, Any] = {
            "deployment_name": deployment_name,
            "input": {"type": input.type, "path": path, "name": input_name},
            "output_path": output_path,
            "job_name": job_name,
            "params_override": params_override or [],
            "allow_reuse": allow_reuse,
        }
        if experiment_name is not None:
            body["experiment_name"] = experiment_name
        data = self._t.json("POST", f"/api/v1/batch-endpoints/{endpoint_name}/jobs", json=body)
        return _job(data, self._t)

    def list_jobs(self, endpoint_name: str) -> builtins.list[BatchJob]:
        data = self._t.json("GET", "/api/v1/jobs", params={"endpoint_name": endpoint_name})
        return [_job(j, self._t) for j in data["value"]]


def _score_output(outputs: dict[str, Output] | None, output_path: str | None) -> str | None:
    if not outputs:
        return output_path
    unknown = sorted(set(outputs) - {"score"})
    if unknown:
        raise InvalidInputError(
            f"a batch job has one output, 'score', not {', '.join(map(repr, unknown))}; "
            'pass outputs={"score": Output(path=...)}.',
            details={"field": "outputs"},
        )
    return outputs["score"].path or output_path


class BatchDeploymentOperations:
    """``ml_client.batch_deployments``: local model, code and environment are registered first."""

    def __init__(
        self,
        transport: Transport,
        models: AssetOperations[Model],
        code: AssetOperations[Code],
        environments: AssetOperations[Environment],
    ) -> None:
        self._t = transport
        self._inline = InlineAssets(models, code, environments)

    def begin_create_or_update(
        self,
        deployment: BatchDeploymentSpec,
        *,
        skip_script_validation: bool = False,
        set_default: bool = False,
    ) -> Poller[BatchDeployment]:
        """Register inline assets (a registered Model, Environment or Code is referred to, not
        uploaded again), then create or update the deployment.

        ``skip_script_validation`` is accepted for Azure's code; the server always checks the
        scoring script (it is parsed, not run).
        """
        if not deployment.endpoint_name:
            raise InvalidInputError(
                "the deployment has no endpoint_name; set it or pass --endpoint-name.",
                details={"field": "endpoint_name"},
            )
        registered = self._inline.register(deployment.model_copy(deep=True))
        data = self._t.json(
            "POST",
            f"/api/v1/batch-endpoints/{deployment.endpoint_name}/deployments",
            json=spec_body(registered, BatchDeploymentSpec),
            params={"set_default": set_default},
        )
        return Poller.completed(from_server(BatchDeployment, data))

    def get(self, name: str, endpoint_name: str) -> BatchDeployment:
        path = f"/api/v1/batch-endpoints/{endpoint_name}/deployments/{name}"
        return from_server(BatchDeployment, self._t.json("GET", path))

    def list(self, endpoint_name: str) -> builtins.list[BatchDeployment]:
        path = f"/api/v1/batch-endpoints/{endpoint_name}/deployments"
        return [from_server(BatchDeployment, item) for item in self._t.json("GET", path)["value"]]

    def begin_delete(self, name: str, endpoint_name: str) -> Poller[None]:
        self._t.request("DELETE", f"/api/v1/batch-endpoints/{endpoint_name}/deployments/{name}")
        return Poller.completed(None)

    def list_jobs(self, endpoint_name: str, name: str | None = None) -> builtins.list[BatchJob]:
        params = {"endpoint_name": endpoint_name}
        if name:
            params["deployment_name"] = name
        data = self._t.json("GET", "/api/v1/jobs", params=params)
        return [_job(j, self._t) for j in data["value"]]


class JobOperations:
    """``ml_client.jobs``: show, list, stream, cancel, resume, download."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def get(self, name: str) -> BatchJob:
        return _job(self._t.json("GET", f"/api/v1/jobs/{name}"), self._t)

    def list(
        self,
        parent_job_name: str | None = None,
        *,
        list_view_type: str | None = None,
        endpoint_name: str | None = None,
        deployment_name: str | None = None,
    ) -> builtins.list[BatchJob]:
        """Jobs, newest first; ``parent_job_name`` is accepted for Azure compatibility (batch
        jobs here have no child jobs, so it filters to that one job). ``list_view_type`` is
        accepted; jobs are never archived."""
        params = {
            k: v
            for k, v in (("endpoint_name", endpoint_name), ("deployment_name", deployment_name))
            if v
        }
        jobs = [
            _job(j, self._t) for j in self._t.json("GET", "/api/v1/jobs", params=params)["value"]
        ]
        return [j for j in jobs if parent_job_name in (None, j.name)]

    def begin_cancel(self, name: str) -> BatchJob:
        return _job(self._t.json("POST", f"/api/v1/jobs/{name}/cancel"), self._t)

    cancel = begin_cancel

    def resume(self, name: str) -> BatchJob:
        return _job(self._t.json("POST", f"/api/v1/jobs/{name}/resume"), self._t)

    def wait(self, name: str, *, timeout: float | None = None, poll: float = 0.5) -> BatchJob:
        """Block until the job finishes (or ``timeout`` seconds pass) and return it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get(name)
            if job.finished or (deadline is not None and time.monotonic() > deadline):
                return job
            time.sleep(poll)

    def stream(self, name: str) -> None:
        """Print the job's progress and its scripts' log lines until it ends, then its result
        files, as ``ferry job stream`` does; raise if it did not complete (as azure.ai.ml does).

        In a notebook the lines appear in the cell's output as they come.
        """
        print(f"RunId: {name}", flush=True)
        job = follow_job(self, name, PlainDisplay())
        for path, text in result_files(self, job):
            print(f"\n===== {path} =====\n{text.rstrip()}", flush=True)
        if job.status != JobState.COMPLETED.value:
            raise FerryError(
                f"job {name} {job.status.lower()}: {job.error}; see its logs with "
                f"ml_client.jobs.download({name!r}, all=True).",
                details={"job": name, "status": job.status},
            )

    def files(self, name: str) -> builtins.list[dict[str, Any]]:
        return list(self._t.json("GET", f"/api/v1/jobs/{name}/files")["value"])

    def read_file(self, name: str, path: str) -> bytes:
        """One log or output file (a path from :meth:`files`), its exact bytes.

        ``.decode()`` a text file; an image or a parquet file comes back as it is on disk.
        """
        return self._t.request("GET", f"/api/v1/jobs/{name}/files/{path}").content

    def tail_file(self, name: str, path: str, offset: int = 0) -> tuple[str, int]:
        """What a text file holds from byte ``offset`` (at most 4 MiB): (text, next offset)."""
        response = self._t.request(
            "GET", f"/api/v1/jobs/{name}/files/{path}", params={"offset": offset}
        )
        text = response.content.decode("utf-8", errors="replace")
        return text, int(response.headers.get("x-ferry-next-offset", offset))

    def download(
        self,
        name: str,
        *,
        download_path: str = ".",
        output_name: str | None = None,
        all: bool = False,
    ) -> Path:
        """Download ``named-outputs/<output>/`` (and ``logs/`` with ``all``) under download_path."""
        if output_name and output_name != "score":
            raise InvalidInputError(f"a batch job has one output, 'score', not {output_name!r}.")
        dest = Path(download_path).expanduser()
        dest.mkdir(parents=True, exist_ok=True)
        parts = ["named-outputs", "logs"] if all else ["named-outputs"]
        for part in parts:
            with tempfile.TemporaryFile() as archive:
                try:
                    self._t.stream_to(
                        f"/api/v1/jobs/{name}/download", archive, params={"part": part}
                    )
                except NotFoundError:
                    if all and part == "named-outputs":
                        continue  # a job that failed while preparing has logs but no outputs
                    raise
                archive.seek(0)
                with tempfile.TemporaryDirectory(dir=dest) as staging:
                    extracted = safe_extract(archive, Path(staging))
                    _merge(extracted, dest / part)
        return dest / "named-outputs" / "score"


def _merge(source: Path, target: Path) -> None:
    """Move ``source``'s files into ``target`` without deleting what is there already."""
    for item in sorted(source.rglob("*")):
        destination = target / item.relative_to(source)
        if item.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            item.replace(destination)
