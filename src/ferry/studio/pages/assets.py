"""Asset pages: models, data, environments and code, with versions, tags and files."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ferry.errors import NotFoundError
from ferry.server.routes.deps import WorkspaceDep
from ferry.specs.assets import AssetKind
from ferry.studio.auth import Session
from ferry.studio.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: URL segment -> kind; the REST API's collection names.
KINDS = {kind.collection: kind for kind in AssetKind}


def _kind(collection: str) -> AssetKind:
    kind = KINDS.get(collection)
    if kind is None:
        raise NotFoundError(
            f"there is no asset kind {collection!r}; the studio has {', '.join(sorted(KINDS))}.",
            details={"field": "kind"},
        )
    return kind


@router.get("/studio/assets/{collection}", response_class=HTMLResponse)
def asset_list(
    request: Request,
    collection: str,
    _: Session,
    workspace: WorkspaceDep,
    page_token: str | None = None,
) -> HTMLResponse:
    """Every version of every asset of one kind, newest first, one page at a time."""
    kind = _kind(collection)
    page = workspace.assets.list(kind, limit=100, page_token=page_token)
    return render(
        request,
        "assets_list.html",
        kind=kind,
        collection=collection,
        collections=KINDS,
        assets=page.items,
        next_token=page.next_token,
    )
