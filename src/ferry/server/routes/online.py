"""``/api/v1/online-endpoints``: online endpoints, their deployments, keys and logs.

Scoring itself is not here: :class:`ferry.online.gateway.ScoringGateway` answers each
endpoint's ``scoring_uri`` (``/endpoints/<name>/score``) in front of the FastAPI app.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ferry.server.routes.deps import Auth, WorkspaceDep
from ferry.server.routes.models import ListOf, OnlineDeploymentResource, OnlineEndpointResource
from ferry.server.routes.params import name_in_path, path_names
from ferry.server.routes.responses import COMMON, COMMON_STATUSES, errors, updated
from ferry.services.endpoint_keys import issue_token
from ferry.specs.names import ENDPOINT_NAME
from ferry.specs.online import OnlineDeploymentSpec, OnlineEndpointSpec

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/online-endpoints",
    tags=["online"],
    dependencies=[Auth, path_names(name=ENDPOINT_NAME, endpoint=ENDPOINT_NAME)],
    responses=COMMON,
)

EndpointName = Annotated[str, name_in_path(ENDPOINT_NAME, "Online endpoint name")]
DeploymentName = Annotated[str, name_in_path(ENDPOINT_NAME, "Deployment name")]


class RegenerateRequest(BaseModel):
    """Which key to replace (``az ml online-endpoint regenerate-keys --key-type``)."""

    model_config = ConfigDict(extra="forbid")

    key_type: str = Field(
        default="primary", pattern="^(primary|secondary)$", description="primary | secondary."
    )


def _absolute(view: dict[str, Any], request: Request) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    return {
        **view,
        "scoring_uri": base + view["scoring_uri"],
        "openapi_uri": base + view["openapi_uri"],
    }


def _keys(workspace: Any, name: str) -> dict[str, Any]:
    spec = workspace.online.endpoint_spec(name)
    credentials = workspace.online.credentials(name)
    if spec.auth_mode == "aml_token":
        return issue_token(name, credentials.token_secret)
    return {"primary_key": credentials.primary_key, "secondary_key": credentials.secondary_key}


@router.post(
    "",
    status_code=201,
    response_model=OnlineEndpointResource,
    response_model_exclude_unset=True,  # the view as the service made it (models._Stamped)
    responses={**updated(OnlineEndpointResource), **errors(404, 409, 413)},
    summary="Create or update an online endpoint",
)
async def put_endpoint(
    spec: OnlineEndpointSpec, request: Request, response: Response, workspace: WorkspaceDep
) -> Any:
    view, created = await run_in_threadpool(workspace.online.put_endpoint, spec)
    await workspace.online_service.refresh_endpoint(spec.name)
    response.status_code = 201 if created else 200
    return _absolute(view, request)


@router.get(
    "",
    response_model=ListOf[OnlineEndpointResource],
    response_model_exclude_unset=True,  # the view as the service made it (models._Stamped)
    summary="List online endpoints",
)
async def list_endpoints(request: Request, workspace: WorkspaceDep) -> Any:
    views = await run_in_threadpool(workspace.online.list_endpoints)
    return {"value": [_absolute(v, request) for v in views], "next_page_token": None}


@router.get(
    "/{name}",
    response_model=OnlineEndpointResource,
    response_model_exclude_unset=True,  # the view as the service made it (models._Stamped)
    responses=errors(404),
    summary="Show an online endpoint",
)
async def get_endpoint(name: EndpointName, request: Request, workspace: WorkspaceDep) -> Any:
    return _absolute(await run_in_threadpool(workspace.online.endpoint, name), request)


@router.delete(
    "/{name}",
    status_code=204,
    responses=errors(404, 409),
    summary="Delete an endpoint and its deployments",
)
async def delete_endpoint(name: EndpointName, workspace: WorkspaceDep) -> None:
    await run_in_threadpool(workspace.online.delete_endpoint, name)
    await workspace.online_service.remove_endpoint(name)


@router.get(
    "/{name}/keys",
    responses=errors(404),
    summary="Keys (auth_mode key) or a fresh token (aml_token)",
)
async def get_keys(name: EndpointName, workspace: WorkspaceDep) -> Any:
    return await run_in_threadpool(_keys, workspace, name)


@router.post(
    "/{name}/keys/regenerate",
    responses=errors(404, 409, 413),
    summary="Replace the primary or secondary key",
)
async def regenerate_keys(
    name: EndpointName, body: RegenerateRequest, workspace: WorkspaceDep
) -> Any:
    await run_in_threadpool(workspace.online.regenerate_key, name, body.key_type)
    await workspace.online_service.refresh_endpoint(name)
    return await run_in_threadpool(_keys, workspace, name)


@router.post(
    "/{endpoint}/deployments",
    status_code=201,
    response_model=OnlineDeploymentResource,
    response_model_exclude_unset=True,  # the view as the service made it (models._Stamped)
    responses={**updated(OnlineDeploymentResource), **errors(404, 409, 413)},
    summary="Create or update an online deployment",
)
async def put_deployment(
    endpoint: EndpointName,
    spec: OnlineDeploymentSpec,
    response: Response,
    workspace: WorkspaceDep,
    all_traffic: bool = Query(
        default=False, description="Send 100% of live traffic to it once it is ready."
    ),
) -> Any:
    view, created = await run_in_threadpool(workspace.online.put_deployment, endpoint, spec)
    stored = await run_in_threadpool(workspace.online.deployment_spec, endpoint, spec.name)
    # With all_traffic the split moves only once the new replicas are ready, as az ml does.
    workspace.online_service.deploy(endpoint, stored, all_traffic=all_traffic)
    response.status_code = 201 if created else 200
    return view


@router.get(
    "/{endpoint}/deployments",
    response_model=ListOf[OnlineDeploymentResource],
    response_model_exclude_unset=True,  # the view as the service made it (models._Stamped)
    responses=errors(404),
    summary="List an endpoint's deployments",
)
async def list_deployments(endpoint: EndpointName, workspace: WorkspaceDep) -> Any:
    views = await run_in_threadpool(workspace.online.list_deployments, endpoint)
    service = workspace.online_service
    return {
        "value": [{**v, **service.status(endpoint, v["name"])} for v in views],
        "next_page_token": None,
    }


@router.get(
    "/{endpoint}/deployments/{name}",
    response_model=OnlineDeploymentResource,
    response_model_exclude_unset=True,  # the view as the service made it (models._Stamped)
    responses=errors(404),
    summary="Show an online deployment",
)
async def get_deployment(
    endpoint: EndpointName, name: DeploymentName, workspace: WorkspaceDep
) -> Any:
    view = await run_in_threadpool(workspace.online.deployment, endpoint, name)
    return {**view, **workspace.online_service.status(endpoint, name)}


@router.delete(
    "/{endpoint}/deployments/{name}",
    status_code=204,
    responses=errors(404, 409),
    summary="Delete a deployment",
)
async def delete_deployment(
    endpoint: EndpointName, name: DeploymentName, workspace: WorkspaceDep
) -> None:
    await run_in_threadpool(workspace.online.delete_deployment, endpoint, name)
    await workspace.online_service.remove_deployment(endpoint, name)


@router.get(
    "/{endpoint}/deployments/{name}/logs",
    response_class=PlainTextResponse,
    responses=errors(*COMMON_STATUSES, 404, by_ref=True),
    summary="The last lines of the deployment's logs",
)
async def get_logs(
    endpoint: EndpointName,
    name: DeploymentName,
    workspace: WorkspaceDep,
    lines: int = Query(default=5000, ge=1, le=1_000_000, description="Lines per replica log."),
    container_type: str | None = Query(
        default=None, description="InferenceServer (default) or StorageInitializer."
    ),
) -> str:
    await run_in_threadpool(workspace.online.deployment, endpoint, name)
    service = workspace.online_service
    return await run_in_threadpool(service.logs, endpoint, name, lines, container_type)
