"""``/api/v1/{models,data,environments,codes}``: versioned assets."""

from __future__ import annotations

import enum
import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.convertors import StringConvertor, register_url_convertor
from starlette.datastructures import UploadFile

from ferry.archive import pack
from ferry.errors import InvalidInputError, SpecError
from ferry.server.routes.deps import Auth, WorkspaceDep
from ferry.server.routes.models import AssetList, page
from ferry.server.routes.params import name_in_path, path_names
from ferry.server.routes.responses import COMMON, errors
from ferry.specs.assets import SPEC_BY_KIND, AssetKind, AssetResource
from ferry.specs.loader import URI_PATTERN
from ferry.specs.names import ASSET_NAME, VERSION

__all__ = ["UPLOAD_PATHS", "router"]

router = APIRouter(
    prefix="/api/v1",
    tags=["assets"],
    dependencies=[Auth, path_names(name=ASSET_NAME, version=VERSION)],
    responses=COMMON,
)

AssetName = Annotated[str, name_in_path(ASSET_NAME, "Asset name")]
Version = Annotated[str, name_in_path(VERSION, "Version")]
_GZIP: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A tar.gz archive.",
        "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class Collection(str, enum.Enum):
    """REST collection names of the asset kinds."""

    models = "models"
    data = "data"
    environments = "environments"
    codes = "codes"

    @property
    def kind(self) -> AssetKind:
        return {
            "models": AssetKind.MODEL,
            "data": AssetKind.DATA,
            "environments": AssetKind.ENVIRONMENT,
            "codes": AssetKind.CODE,
        }[self.value]


class _CollectionConvertor(StringConvertor):
    # The routes below say {collection:ferry_collection}: a path matches them only for a real
    # collection, so /api/v1/health or /api/v1/secrets never falls through to them (POST
    # /api/v1/health would be a 422 about 'collection' instead of the truth, 405).
    regex = "|".join(collection.value for collection in Collection)


register_url_convertor("ferry_collection", _CollectionConvertor())


#: The routes that take multipart uploads, bounded by max_upload_bytes instead of max_json_bytes.
UPLOAD_PATHS = frozenset(f"{router.prefix}/{collection.value}" for collection in Collection)


class AssetUpdate(BaseModel):
    """The mutable fields of an asset version."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, description="New description.")
    tags: dict[str, str] | None = Field(default=None, description="Tags to set (merged).")


def _json_spec_schema(kind: AssetKind) -> dict[str, Any]:
    """The JSON body of a create: the kind's spec, with what a spec without files must hold.

    Without an upload the server has no files, so ``path`` must be a URI, anonymous code is
    refused (its name comes from uploaded content) and a conda file is sent as its content.
    """
    schema = _inline(SPEC_BY_KIND[kind].model_json_schema())
    properties = schema["properties"]
    if kind is not AssetKind.ENVIRONMENT:
        properties["path"] = {
            "type": "string",
            "pattern": URI_PATTERN,
            "description": "A URI: azureml://datastores/<name>/paths/<path>, https://, s3://, ...",
        }
    if kind is AssetKind.CODE:
        properties["name"] = {"type": "string", **ASSET_NAME.json_schema()}
        schema["required"] = sorted({*schema.get("required", []), "name"})
    if kind is AssetKind.ENVIRONMENT:
        # What the asset service reads of it (_inspect_environment): a dependencies list whose
        # pip entry, if any, is a list.
        conda = {
            "type": "object",
            "required": ["dependencies"],
            "properties": {
                "dependencies": {
                    "type": "array",
                    "items": {"properties": {"pip": {"type": "array"}}},
                }
            },
        }
        properties["conda_file"] = {
            "anyOf": [conda, {"type": "null"}],
            "description": "The conda file's content (the CLI and SDK read the file for you).",
        }
    return schema


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` written in place (an OpenAPI document has no ``$defs``)."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def _create_doc(kind: AssetKind) -> dict[str, Any]:
    spec = _json_spec_schema(kind)
    return {
        "requestBody": {
            "required": True,
            "description": (
                f"Either the JSON {kind.value} spec (its path a URI), or multipart/form-data with "
                "a 'spec' field (the JSON spec) and an 'archive' file (tar.gz of the local file "
                "or folder)."
            ),
            "content": {
                "application/json": {"schema": spec},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "spec": spec,
                            "archive": {
                                "type": "string",
                                "format": "binary",
                                "description": "tar.gz of one file or folder; its path is then "
                                "the upload's.",
                            },
                        },
                        "required": ["spec"],
                    },
                    "encoding": {"spec": {"contentType": "application/json"}},
                },
            },
        }
    }


def _collection_routes(collection: Collection) -> None:
    """``POST`` and ``GET /api/v1/<collection>``: operations of their own per collection.

    Each create documents its own spec; the listing follows so that no ``/{collection}``
    template overlaps these paths (a client would read POST as undocumented there).
    """

    async def create(request: Request, response: Response, workspace: WorkspaceDep) -> Any:
        return await create_asset(collection, request, response, workspace)

    def list_(
        workspace: WorkspaceDep,
        name: str | None = Query(default=None, description="List the versions of this name."),
        include_archived: bool = Query(default=False, description="Include archived versions."),
        limit: int = Query(default=100, ge=1, le=1000, description="Page size."),
        page_token: str | None = Query(default=None, description="Token from the previous page."),
    ) -> dict[str, Any]:
        return list_assets(collection, workspace, name, include_archived, limit, page_token)

    router.add_api_route(
        f"/{collection.value}",
        create,
        methods=["POST"],
        name=f"create_{collection.value}",
        response_model=AssetResource,
        status_code=201,
        responses={
            200: {"model": AssetResource, "description": "The identical version existed already."},
            **errors(404, 409, 413),
        },
        openapi_extra=_create_doc(collection.kind),
        summary=f"Create a {collection.kind.value} version (uploading local files atomically)",
    )
    router.add_api_route(
        f"/{collection.value}",
        list_,
        methods=["GET"],
        name=f"list_{collection.value}",
        response_model=AssetList,
        summary=f"List {collection.value} or the versions of one",
    )


async def create_asset(
    collection: Collection, request: Request, response: Response, workspace: WorkspaceDep
) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_part_size=16 * 1024 * 1024)
        spec = _parse_spec(form.get("spec"))
        archive = form.get("archive")
        if archive is not None and not isinstance(archive, UploadFile):
            raise InvalidInputError("'archive' must be a file part.", details={"field": "archive"})
        try:
            view, created = await run_in_threadpool(
                workspace.assets.create, collection.kind, spec, archive.file if archive else None
            )
        finally:
            await form.close()
    else:
        spec = _parse_spec(await request.body())
        view, created = await run_in_threadpool(workspace.assets.create, collection.kind, spec)
    response.status_code = 201 if created else 200
    return view


for _collection in Collection:
    _collection_routes(_collection)


def _parse_spec(raw: Any) -> dict[str, Any]:
    if raw is None:
        raise InvalidInputError("the request has no spec; send a JSON object.")
    try:
        data = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"the spec is not valid JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise SpecError("the spec must be a JSON object.")
    return data


def list_assets(
    collection: Collection,
    workspace: WorkspaceDep,
    name: str | None,
    include_archived: bool,
    limit: int,
    page_token: str | None,
) -> dict[str, Any]:
    result = workspace.assets.list(
        collection.kind, name, include_archived=include_archived, limit=limit, page_token=page_token
    )
    return page(result.items, result.next_token)


@router.get(
    "/{collection:ferry_collection}/{name}",
    response_model=AssetResource,
    responses=errors(404),
    summary="Show a version",
)
def get_asset(
    collection: Collection,
    name: AssetName,
    workspace: WorkspaceDep,
    version: str | None = Query(default=None, description="The version; default the latest."),
    # A Literal, so OpenAPI names the one label there is.
    label: Literal["latest"] | None = Query(
        default=None, description="'latest' (give it or a version, not both)."
    ),
) -> dict[str, Any]:
    return workspace.assets.get(collection.kind, name, version, label)


@router.patch(
    "/{collection:ferry_collection}/{name}/versions/{version}",
    response_model=AssetResource,
    responses=errors(404, 413),
    summary="Update description or tags",
)
def update_asset(
    collection: Collection,
    name: AssetName,
    version: Version,
    body: AssetUpdate,
    workspace: WorkspaceDep,
) -> dict[str, Any]:
    return workspace.assets.update(
        collection.kind, name, version, description=body.description, tags=body.tags
    )


@router.post(
    "/{collection:ferry_collection}/{name}/archive",
    response_model=list[AssetResource],
    responses=errors(404),
    summary="Archive",
)
def archive_asset(
    collection: Collection,
    name: AssetName,
    workspace: WorkspaceDep,
    version: str | None = Query(default=None, description="One version; default all."),
) -> list[dict[str, Any]]:
    return workspace.assets.set_archived(collection.kind, name, version, True)


@router.post(
    "/{collection:ferry_collection}/{name}/restore",
    response_model=list[AssetResource],
    responses=errors(404),
    summary="Restore",
)
def restore_asset(
    collection: Collection,
    name: AssetName,
    workspace: WorkspaceDep,
    version: str | None = Query(default=None, description="One version; default all."),
) -> list[dict[str, Any]]:
    return workspace.assets.set_archived(collection.kind, name, version, False)


@router.get(
    "/{collection:ferry_collection}/{name}/versions/{version}/download",
    response_class=FileResponse,
    responses={**_GZIP, **errors(404, 409)},
    summary="Download a version's files as tar.gz",
)
def download_asset(
    collection: Collection, name: AssetName, version: Version, workspace: WorkspaceDep
) -> FileResponse:
    record = workspace.assets.record(collection.kind, name, version)
    tmp = Path(tempfile.mkdtemp(prefix="download-", dir=workspace.layout.tmp))
    try:
        source = workspace.assets.local_path(record) or workspace.assets.export(record, tmp / "src")
        archive = tmp / "asset.tar.gz"
        with archive.open("wb") as out:
            pack(source, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return FileResponse(
        archive,
        media_type="application/gzip",
        filename=f"{name}-{version}.tar.gz",
        background=BackgroundTask(shutil.rmtree, tmp, True),
    )
