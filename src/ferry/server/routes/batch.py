"""``/api/v1/batch-endpoints``: batch endpoints, their deployments, and invoking them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ferry.server.routes.deps import Auth, WorkspaceDep
from ferry.server.routes.models import BatchDeploymentResource, BatchEndpointResource, ListOf
from ferry.server.routes.params import name_in_path, path_names
from ferry.server.routes.responses import COMMON, errors, updated
from ferry.specs.batch import BatchDeploymentSpec, BatchEndpointSpec
from ferry.specs.invoke import InvokeRequest
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


def _absolute(view: dict[str, Any], request: Request) -> dict[str, Any]:
    """The scoring URI as a caller outside the server uses it (Data Factory, curl): absolute."""
    base = str(request.base_url).rstrip("/")
    return {**view, "scoring_uri": base + view["scoring_uri"]}


@router.post(
    "",
    status_code=201,
    response_model=BatchEndpointResource,
    response_model_exclude_unset=True,  # the view as the service made it (models._Stamped)
    responses={**updated(BatchEndpointResource), **errors(404, 409, 413)},
    summary="Create or update a batch endpoint",
)
def put_endpoint(
    spec: BatchEndpointSpec, request: Request, response: Response, workspace: WorkspaceDep
) -> Any:
    view, created = workspace.batch.put_endpoint(spec)
    response.status_code = 201 if created else 200
    return _absolute(view, request)


@router.get(
    "",
    response_model=ListOf[BatchEndpointResource],
    response_model_exclude_unset=True,  # the view as the service made it (models._Stamped)
    summary="List batch endpoints",
)
def list_endpoints(request: Request, workspace: WorkspaceDep) -> Any:
    views = [_absolute(view, request) for view in workspace.batch.list_endpoints()]
    return {"value": views, "next_page_token": None}


@router.get(
    "/{name}",
    response_model=BatchEndpointResource,
    response_model_exclude_unset=True,  # the view as the service made it (models._Stamped)
    responses=errors(404),
    summary="Show a batch endpoint",
)
def get_endpoint(name: EndpointName, request: Request, workspace: WorkspaceDep) -> Any:
    return _absolute(workspace.batch.endpoint(name), request)


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
    response_model_exclude_unset=True,  # the view as the service made it (models._Stamped)
    responses={**updated(BatchDeploymentResource), **errors(404, 409, 413)},
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
    response_model_exclude_unset=True,  # the view as the service made it (models._Stamped)
    responses=errors(404),
    summary="List an endpoint's deployments",
)
def list_deployments(endpoint: EndpointName, workspace: WorkspaceDep) -> Any:
    return {"value": workspace.batch.list_deployments(endpoint), "next_page_token": None}


@router.get(
    "/{endpoint}/deployments/{name}",
    response_model=BatchDeploymentResource,
    response_model_exclude_unset=True,  # the view as the service made it (models._Stamped)
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
    description="The body is Ferry's (input, output_path, params_override), Azure's batch "
    "endpoint invoke body ({properties: {InputData, OutputDataset, OutputData, ...}}), or a "
    "published pipeline's (ExperimentName, ParameterAssignments, DataPathAssignments); see "
    "InvokeRequest. The bearer token is the workspace token.",
)
async def invoke(
    endpoint: EndpointName,
    body: InvokeRequest,
    workspace: WorkspaceDep,
    azureml_model_deployment: str | None = Header(
        default=None,
        description="The deployment to run on, as Azure's SDK sends it; deployment_name wins.",
    ),
) -> Any:
    request = body.submission(endpoint, azureml_model_deployment)
    return await run_in_threadpool(workspace.jobs.submit, request)
