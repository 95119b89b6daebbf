"""Batch endpoint pages: the list, and an endpoint with its deployments, jobs and Invoke form.

The Invoke form builds the same :class:`~ferry.specs.invoke.InvokeRequest` the REST invoke takes
and submits it through :meth:`InvokeRequest.submission` and ``JobService.submit``: the same checks
(the input resolves, the overrides are allowed) refuse a bad form with the same messages. An
uploaded folder is staged by content first, as ``ferry batch-endpoint invoke --input ./folder``
does.
"""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from ferry.errors import FerryError, InvalidInputError
from ferry.server.job_prepare import NUMBER_SETTINGS, TEXT_SETTINGS
from ferry.server.routes.deps import WorkspaceDep
from ferry.server.workspace import Workspace
from ferry.specs.assets import AssetKind
from ferry.specs.invoke import InvokeRequest
from ferry.studio.auth import Csrf, Session
from ferry.studio.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: Jobs listed on an endpoint's page (the jobs page has them all).
RECENT_JOBS = 20
LOGGING_LEVELS = ("", "debug", "info", "warning", "error", "critical")


@router.get("/studio/batch-endpoints", response_class=HTMLResponse)
def batch_list(request: Request, _: Session, workspace: WorkspaceDep) -> HTMLResponse:
    """Every batch endpoint with its default deployment."""
    return render(request, "batch_list.html", endpoints=workspace.batch.list_endpoints())


def _page(
    request: Request,
    workspace: Workspace,
    name: str,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    endpoint = workspace.batch.endpoint(name)
    data_assets = workspace.assets.list(AssetKind.DATA, limit=100).items
    return render(
        request,
        "batch_endpoint.html",
        status_code=status_code,
        endpoint=endpoint,
        default=(endpoint.get("defaults") or {}).get("deployment_name"),
        deployments=workspace.batch.list_deployments(name),
        jobs=workspace.jobs.list(name, limit=RECENT_JOBS),
        data_assets=data_assets,
        number_settings=NUMBER_SETTINGS,
        logging_levels=LOGGING_LEVELS,
        form=form or {},
        error=error,
    )


@router.get("/studio/batch-endpoints/{name}", response_class=HTMLResponse)
def batch_endpoint(
    request: Request, name: str, _: Session, workspace: WorkspaceDep
) -> HTMLResponse:
    """The endpoint: deployments, the default, recent jobs and the Invoke form."""
    return _page(request, workspace, name)


def _text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


def _overrides(form: FormData) -> dict[str, Any]:
    """The settings the form overrides (empty fields keep the deployment's)."""
    overrides: dict[str, Any] = {}
    for key in NUMBER_SETTINGS:
        raw = _text(form, key)
        if not raw:
            continue
        try:
            overrides[key] = int(raw)
        except ValueError:
            raise InvalidInputError(
                f"{key} must be a whole number, got {raw!r}; leave it empty to keep the "
                "deployment's setting.",
                details={"field": key},
            ) from None
    for key in TEXT_SETTINGS:
        if raw := _text(form, key):
            overrides[key] = raw
    return overrides


def _uploaded(form: FormData) -> list[UploadFile]:
    return [f for f in form.getlist("upload") if isinstance(f, UploadFile) and f.filename]


def _stage_upload(workspace: Workspace, uploads: list[UploadFile]) -> str:
    """Stage the uploaded files by content, as ``ferry batch-endpoint invoke --input ./folder``
    does (the same files give the same staged folder); return its datastore URI."""
    with tempfile.TemporaryDirectory(dir=workspace.layout.tmp, prefix="studio-upload-") as tmp:
        folder = Path(tmp) / "input"
        folder.mkdir()
        for upload in uploads:
            # A folder upload names files with their relative path; keep only safe parts.
            parts = [
                p
                for p in PurePosixPath(upload.filename or "").parts
                if p not in ("", ".", "..", "/")
            ]
            if not parts:
                continue
            target = folder.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                while chunk := upload.file.read(1024 * 1024):
                    out.write(chunk)
        return workspace.staging.from_path(str(folder)).uri


def _input_path(workspace: Workspace, endpoint: str, form: FormData) -> str:
    source = _text(form, "input_source") or "asset"
    if source == "asset":
        path = _text(form, "data_asset")
        missing = "pick a data asset (or register one: ferry data create -f data.yml)"
    elif source == "datastore":
        path = _text(form, "datastore_path")
        missing = "give a datastore path: azureml://datastores/<name>/paths/<folder>"
    elif source == "upload":
        uploads = _uploaded(form)
        if not uploads:
            raise InvalidInputError(
                "upload: choose the files (or a folder) to score.", details={"field": "upload"}
            )
        return _stage_upload(workspace, uploads)
    else:
        raise InvalidInputError(
            f"input_source must be asset, datastore or upload, got {source!r}.",
            details={"field": "input_source"},
        )
    if not path:
        raise InvalidInputError(f"input: {missing}.", details={"field": "input"})
    return path


def _invoke(workspace: Workspace, endpoint: str, form: FormData) -> dict[str, Any]:
    # The cheap checks first: nothing is uploaded for a form that is refused anyway.
    workspace.batch.endpoint(endpoint)
    overrides = _overrides(form)
    body: dict[str, Any] = {
        "input": {
            "type": _text(form, "input_type") or "uri_folder",
            "path": _input_path(workspace, endpoint, form),
        },
        "params_override": overrides,
    }
    for key in ("deployment_name", "job_name", "output_path"):
        if value := _text(form, key):
            body[key] = value
    try:
        request = InvokeRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise InvalidInputError(f"{field}: {first['msg']}", details={"field": field}) from exc
    return workspace.jobs.submit(request.submission(endpoint))


@router.post("/studio/batch-endpoints/{name}/invoke", response_class=HTMLResponse)
async def batch_invoke(request: Request, name: str, _: Csrf, workspace: WorkspaceDep) -> Response:
    """Start a job from the Invoke form, then show its page; a refused form comes back with
    the error and the values as they were typed."""
    async with request.form() as form:
        try:
            job = await run_in_threadpool(_invoke, workspace, name, form)
        except FerryError as exc:
            typed = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
            return _page(
                request,
                workspace,
                name,
                form=typed,
                error=exc.message,
                status_code=exc.http_status,
            )
    return RedirectResponse(f"/studio/jobs/{quote(job['name'])}", status_code=303)
