"""``/api/v1/staged-inputs``: a job's local input staged into the default datastore.

Three ways in, one result (the staged tree's ``azureml://`` URI; see
:mod:`ferry.services.staging`): a local client names its folder and the server links it, a remote
client asks whether the content is staged already and else uploads one archive.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ferry.errors import ForbiddenError
from ferry.server.routes.deps import Auth, WorkspaceDep
from ferry.server.routes.responses import COMMON, errors
from ferry.services.staging import StagedInput

__all__ = ["UPLOAD_PATHS", "router"]

router = APIRouter(prefix="/api/v1", tags=["staged inputs"], dependencies=[Auth], responses=COMMON)

#: The route that takes a multipart upload, bounded by max_upload_bytes instead of max_json_bytes.
UPLOAD_PATHS = frozenset({f"{router.prefix}/staged-inputs/archive"})


class StageLocal(BaseModel):
    """A file or folder on the server's machine, named by a client on the same machine."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="Absolute path of the file or folder (no '..' component).")
    uid: int | None = Field(
        default=None, description="The client's user id; another user than the server's is 403."
    )


class StagedInputView(BaseModel):
    """Where the input is staged; pass ``path`` as the job's input."""

    path: str = Field(description="azureml://datastores/<default>/paths/LocalInputs/<f>/<name>")
    content_hash: str = Field(description="sha256:<hex> of the tree (ferry.archive.content_hash).")
    files: int = Field(description="Files staged (-1 when only looked up).")
    method: str = Field(
        description="reflink, link or copy (written now), existing (staged before), datastore "
        "(uploaded to a remote default datastore)."
    )


def _view(staged: StagedInput, response: Response) -> dict[str, Any]:
    response.status_code = 200 if staged.method == "existing" else 201
    return {
        "path": staged.uri,
        "content_hash": staged.content_hash,
        "files": staged.files,
        "method": staged.method,
    }


_STAGED: dict[int | str, dict[str, Any]] = {
    200: {"model": StagedInputView, "description": "The content was staged already."}
}


@router.post(
    "/staged-inputs",
    response_model=StagedInputView,
    status_code=201,
    responses={**_STAGED, **errors(403, 404, 413)},
    summary="Stage a local file or folder by path (a client on the server's machine)",
)
async def stage_local(body: StageLocal, response: Response, workspace: WorkspaceDep) -> Any:
    """Links (or reflinks, or copies) the files into the default datastore; nothing is sent."""
    settings = workspace.settings
    if not settings.binds_loopback:
        # Only a client on this machine names its files by path; one elsewhere would be naming
        # the server's files, which are not its to stage.
        raise ForbiddenError(
            f"staging by path is for a client on the server's machine, and this server listens "
            f"on {settings.host}; upload the input instead (FERRY_INPUT_STAGING=archive).",
            details={"field": "path"},
        )
    staged = await run_in_threadpool(workspace.staging.from_path, body.path, uid=body.uid)
    return _view(staged, response)


@router.post(
    "/staged-inputs/archive",
    response_model=StagedInputView,
    status_code=201,
    responses={**_STAGED, **errors(413)},
    summary="Stage the one file or folder of a tar.gz upload",
)
async def stage_archive(
    response: Response,
    workspace: WorkspaceDep,
    archive: Annotated[UploadFile, File(description="tar.gz of one file or folder.")],
) -> Any:
    try:
        staged = await run_in_threadpool(workspace.staging.from_archive, archive.file)
    finally:
        await archive.close()
    return _view(staged, response)


@router.get(
    "/staged-inputs/{digest}/{name}",
    response_model=StagedInputView,
    responses=errors(404),
    summary="Look up an input staged before, by content hash and name",
)
def find_staged(
    workspace: WorkspaceDep,
    digest: Annotated[
        str, Path(pattern="^[0-9a-f]{64}$", description="The hex of sha256:<hex> content_hash.")
    ],
    name: Annotated[str, Path(description="The file or folder's base name.")],
    response: Response,
) -> Any:
    staged = workspace.staging.find(f"sha256:{digest}", name)
    return _view(staged, response)
