"""``/api/v1/{datastores,computes,secrets}``: unversioned workspace resources."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from ferry.server.routes.deps import Auth, WorkspaceDep
from ferry.server.routes.models import (
    ComputeResource,
    DatastoreResource,
    ListOf,
    SecretResource,
    SecretValue,
    page,
)
from ferry.server.routes.params import name_in_path, path_names
from ferry.server.routes.responses import COMMON, errors, updated
from ferry.specs.names import COMPUTE_NAME, DATASTORE_NAME, SECRET_NAME
from ferry.specs.workspace import ComputeSpec, DatastoreSpec

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", dependencies=[Auth], responses=COMMON)

_DATASTORE_NAME = path_names(name=DATASTORE_NAME)
_COMPUTE_NAME = path_names(name=COMPUTE_NAME)
_SECRET_NAME = path_names(name=SECRET_NAME)
_LIMIT = Query(default=100, ge=1, le=1000, description="Page size.")
_TOKEN = Query(default=None, description="Token from the previous page.")
DatastoreName = Annotated[str, name_in_path(DATASTORE_NAME, "Datastore name")]
ComputeName = Annotated[str, name_in_path(COMPUTE_NAME, "Compute name")]
SecretName = Annotated[str, name_in_path(SECRET_NAME, "Secret name")]


@router.post(
    "/datastores",
    response_model=DatastoreResource,
    status_code=201,
    tags=["datastores"],
    responses={**updated(DatastoreResource), **errors(409, 413)},
)
def create_datastore(spec: DatastoreSpec, response: Response, workspace: WorkspaceDep) -> Any:
    """Register a datastore; credentials are moved into encrypted secrets."""
    view, created = workspace.datastores.create(spec)
    response.status_code = 201 if created else 200
    return view


@router.get("/datastores", response_model=ListOf[DatastoreResource], tags=["datastores"])
def list_datastores(
    workspace: WorkspaceDep, limit: int = _LIMIT, page_token: str | None = _TOKEN
) -> Any:
    result = workspace.datastores.list(limit=limit, page_token=page_token)
    return page(result.items, result.next_token)


@router.get(
    "/datastores/{name}",
    response_model=DatastoreResource,
    tags=["datastores"],
    dependencies=[_DATASTORE_NAME],
    responses=errors(404),
)
def get_datastore(name: DatastoreName, workspace: WorkspaceDep) -> Any:
    return workspace.datastores.get(name)


@router.delete(
    "/datastores/{name}",
    status_code=204,
    tags=["datastores"],
    dependencies=[_DATASTORE_NAME],
    responses=errors(404, 409),
)
def delete_datastore(name: DatastoreName, workspace: WorkspaceDep) -> None:
    workspace.datastores.delete(name)


@router.post(
    "/computes",
    response_model=ComputeResource,
    status_code=201,
    tags=["computes"],
    responses={**updated(ComputeResource), **errors(409, 413)},
)
def create_compute(spec: ComputeSpec, response: Response, workspace: WorkspaceDep) -> Any:
    """Record a compute target (local or a Ray cluster)."""
    view, created = workspace.computes.create(spec)
    response.status_code = 201 if created else 200
    return view


@router.get("/computes", response_model=ListOf[ComputeResource], tags=["computes"])
def list_computes(
    workspace: WorkspaceDep, limit: int = _LIMIT, page_token: str | None = _TOKEN
) -> Any:
    result = workspace.computes.list(limit=limit, page_token=page_token)
    return page(result.items, result.next_token)


@router.get(
    "/computes/{name}",
    response_model=ComputeResource,
    tags=["computes"],
    dependencies=[_COMPUTE_NAME],
    responses=errors(404),
)
def get_compute(name: ComputeName, workspace: WorkspaceDep) -> Any:
    return workspace.computes.get(name)


@router.delete(
    "/computes/{name}",
    status_code=204,
    tags=["computes"],
    dependencies=[_COMPUTE_NAME],
    responses=errors(404, 409),
)
def delete_compute(name: ComputeName, workspace: WorkspaceDep) -> None:
    workspace.computes.delete(name)


@router.put(
    "/secrets/{name}",
    response_model=SecretResource,
    status_code=201,
    tags=["secrets"],
    dependencies=[_SECRET_NAME],
    responses={**updated(SecretResource), **errors(413)},
)
def set_secret(
    name: SecretName, body: SecretValue, response: Response, workspace: WorkspaceDep
) -> Any:
    """Create or replace a secret. The value is encrypted and never returned."""
    view, created = workspace.secrets.set(name, body.value)
    response.status_code = 201 if created else 200
    return view


@router.get("/secrets", response_model=ListOf[SecretResource], tags=["secrets"])
def list_secrets(workspace: WorkspaceDep) -> Any:
    return page(workspace.secrets.list(), None)


@router.delete(
    "/secrets/{name}",
    status_code=204,
    tags=["secrets"],
    dependencies=[_SECRET_NAME],
    responses=errors(404),
)
def delete_secret(name: SecretName, workspace: WorkspaceDep) -> None:
    workspace.secrets.delete(name)
