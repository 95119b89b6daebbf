"""``POST /api/v1/environments/{name}/build``: pre-build an environment into the cache."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from ferry.environments import normalize_environment
from ferry.errors import ConflictError, SpecError
from ferry.server.routes.deps import Auth, WorkspaceDep
from ferry.server.routes.params import name_in_path, path_names
from ferry.server.routes.responses import COMMON, errors
from ferry.specs.assets import AssetKind, EnvironmentSpec
from ferry.specs.names import ASSET_NAME

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/environments",
    tags=["assets"],
    dependencies=[Auth, path_names(name=ASSET_NAME)],
    responses=COMMON,
)


@router.post(
    "/{name}/build",
    responses=errors(404, 409),
    summary="Build an environment now (jobs reuse the cache)",
)
async def build_environment(
    name: Annotated[str, name_in_path(ASSET_NAME, "Environment name")],
    workspace: WorkspaceDep,
    version: str | None = Query(default=None, description="Version; default the latest."),
) -> Any:
    record = workspace.assets.record(AssetKind.ENVIRONMENT, name, version)
    fields = {k: v for k, v in record.spec.items() if k in EnvironmentSpec.model_fields}
    try:
        resolved = normalize_environment(EnvironmentSpec.model_validate({**fields, "name": name}))
    except SpecError as exc:
        # What cannot be built is the stored version, not this request (it has no body): 409,
        # resolved by registering a version that can be.
        raise ConflictError(exc.message, details=exc.details) from exc
    built = await run_in_threadpool(workspace.environments.ensure, resolved)
    return {
        "name": record.name,
        "version": record.version,
        "hash": built.hash,
        "python": str(built.python),
        "python_version": built.python_version,
        "reused": built.reused,
        "notices": list(built.notices),
        "changes": list(built.changes),
        "log_path": str(built.log_path),
    }
