"""``/api/v1/batch-endpoints``: batch endpoints, their deployments, and invoking them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ferry.errors import InvalidInputError
from ferry.server.routes.deps import Auth, WorkspaceDep
from ferry.server.routes.models import BatchDeploymentResource, BatchEndpointResource, ListOf
from ferry.server.routes.params import name_in_path, path_names
from ferry.server.routes.responses import COMMON, errors
from ferry.specs.batch import BatchDeploymentSpec, BatchEndpointSpec
from ferry.specs.names import ENDPOINT_NAME

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/batch-endpoints",
    tags=["batch"],
    dependencies=[Auth, path_names(name=ENDPOINT_NAME, endpoint=ENDPOINT_NAME)],
    responses=COMMON,
)

EndpointName = Annotated[str, name_in_path(ENDPOINT_NAME, "Batch endpoint name")]
DeploymentName = Annotated[str, name_in_path(ENDPOINT_NAME, "Deployment name")]


def _updated(model: type[Any]) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "description": "Updated: the name existed."}}


class JobInput(BaseModel):
    """What a batch job scores."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(
        default="uri_folder",
        pattern="^(uri_folder|uri_file)$",
        description="uri_folder | uri_file.",
    )
    path: str = Field(
        description="azureml:<data>:<version>, azureml://datastores/<d>/paths/<p>, or file://<abs "
        "path> for a folder read in place on the server's machine."
    )


class InvokeRequest(BaseModel):
    """Start a batch job on an endpoint (``az ml batch-endpoint invoke``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    deployment_name: str | None = Field(
        default=None, description="Deployment to run on; default the endpoint's default."
    )
    input: JobInput = Field(description="The data to score.")
    output_path: str | None = Field(
        default=None, description="azureml://datastores/<d>/paths/<p> to copy outputs to."
    )
    job_name: str | None = Field(default=None, description="Name of the job; default generated.")
    params_override: list[dict[str, Any]] | dict[str, Any] = Field(
        default_factory=dict,
        description="Settings overrides, e.g. [{'mini_batch_size': 5}] or {'mini_batch_size': 5}.",
    )
    parameter_assignments: dict[str, Any] = Field(
        default_factory=dict,
        alias="ParameterAssignments",
        description="Overrides in the published-pipeline (ADF) style; merged into params_override.",
    )
    allow_reuse: bool = Field(
        default=False, description="Reuse an identical completed job's outputs (off by default)."
    )

    def overrides(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        items = self.params_override
        for item in items if isinstance(items, list) else [items]:
            merged.update(item)
        merged.update(self.parameter_assignments)
        for key in (
            "max_retries",
            "timeout",
            "mini_batch_size",
            "instance_count",
            "max_concurrency_per_instance",
            "error_threshold",
        ):
            if key in merged:
                try:
                    merged[key] = int(merged[key])
                except (TypeError, ValueError) as exc:
                    raise InvalidInputError(
                        f"override {key}={merged[key]!r} must be a whole number.",
                        details={"field": key},
                    ) from exc
        return merged


@router.post(
    "",
    status_code=201,
    response_model=BatchEndpointResource,
    response_model_exclude_unset=True,  # the view as the registry made it (models._Stamped)
    responses={**_updated(BatchEndpointResource), **errors(404, 409, 413)},
    summary="Create or update a batch endpoint",
)
def put_endpoint(spec: BatchEndpointSpec, response: Response, workspace: WorkspaceDep) -> Any:
    view, created = workspace.batch.put_endpoint(spec)
    response.status_code = 201 if created else 200
    return view


@router.get(
    "",
    response_model=ListOf[BatchEndpointResource],
    response_model_exclude_unset=True,  # the view as the registry made it (models._Stamped)
    summary="List batch endpoints",
)
def list_endpoints(workspace: WorkspaceDep) -> Any:
    return {"value": workspace.batch.list_endpoints(), "next_page_token": None}


@router.get(
    "/{name}",
    response_model=BatchEndpointResource,
    response_model_exclude_unset=True,  # the view as the registry made it (models._Stamped)
    responses=errors(404),
    summary="Show a batch endpoint",
)
def get_endpoint(name: EndpointName, workspace: WorkspaceDep) -> Any:
    return workspace.batch.endpoint(name)


@router.delete(
    "/{name}",
    status_code=204,
    responses=errors(404, 409),
    summary="Delete a batch endpoint and its deployments",
)
def delete_endpoint(name: EndpointName, workspace: WorkspaceDep) -> None:
    workspace.batch.delete_endpoint(name)


@router.post(
    "/{endpoint}/deployments",
    status_code=201,
    response_model=BatchDeploymentResource,
    response_model_exclude_unset=True,  # the view as the registry made it (models._Stamped)
    responses={**_updated(BatchDeploymentResource), **errors(404, 409, 413)},
    summary="Create or update a batch deployment",
)
def put_deployment(
    endpoint: EndpointName,
    spec: BatchDeploymentSpec,
    response: Response,
    workspace: WorkspaceDep,
    set_default: bool = Query(default=False, description="Make it the endpoint's default."),
) -> Any:
    view, created = workspace.batch.put_deployment(endpoint, spec, set_default=set_default)
    response.status_code = 201 if created else 200
    return view


@router.get(
    "/{endpoint}/deployments",
    response_model=ListOf[BatchDeploymentResource],
    response_model_exclude_unset=True,  # the view as the registry made it (models._Stamped)
    responses=errors(404),
    summary="List an endpoint's deployments",
)
def list_deployments(endpoint: EndpointName, workspace: WorkspaceDep) -> Any:
    return {"value": workspace.batch.list_deployments(endpoint), "next_page_token": None}


@router.get(
    "/{endpoint}/deployments/{name}",
    response_model=BatchDeploymentResource,
    response_model_exclude_unset=True,  # the view as the registry made it (models._Stamped)
    responses=errors(404),
    summary="Show a batch deployment",
)
def get_deployment(endpoint: EndpointName, name: DeploymentName, workspace: WorkspaceDep) -> Any:
    return workspace.batch.deployment(endpoint, name)


@router.delete(
    "/{endpoint}/deployments/{name}",
    status_code=204,
    responses=errors(404, 409),
    summary="Delete a deployment",
)
def delete_deployment(
    endpoint: EndpointName, name: DeploymentName, workspace: WorkspaceDep
) -> None:
    workspace.batch.delete_deployment(endpoint, name)


@router.get(
    "/{endpoint}/deployments/{name}/jobs", responses=errors(404), summary="Jobs of one deployment"
)
def list_deployment_jobs(
    endpoint: EndpointName, name: DeploymentName, workspace: WorkspaceDep
) -> Any:
    workspace.batch.deployment(endpoint, name)
    return {"value": workspace.jobs.list(endpoint, name), "next_page_token": None}


@router.post(
    "/{endpoint}/jobs",
    status_code=201,
    responses=errors(404, 409, 413),
    summary="Invoke: start a batch job",
)
async def invoke(endpoint: EndpointName, body: InvokeRequest, workspace: WorkspaceDep) -> Any:
    request = {
        "endpoint_name": endpoint,
        "deployment_name": body.deployment_name,
        "input": body.input.model_dump(),
        "output_path": body.output_path,
        "job_name": body.job_name,
        "overrides": body.overrides(),
        "allow_reuse": body.allow_reuse,
    }
    return await run_in_threadpool(workspace.jobs.submit, request)
