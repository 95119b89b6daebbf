"""Shared route dependencies: the workspace and the bearer-token check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ferry.errors import AuthError
from ferry.server.workspace import Workspace

__all__ = ["Auth", "WorkspaceDep", "get_workspace", "require_token"]

_bearer = HTTPBearer(auto_error=False, description="The workspace's control-plane token.")


def get_workspace(request: Request) -> Workspace:
    workspace: Workspace = request.app.state.workspace
    return workspace


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Every control-plane call carries ``Authorization: Bearer <token>``."""
    if credentials is None:
        raise AuthError(
            "missing Authorization header; send 'Authorization: Bearer <token>' (the token is in "
            "the workspace's 'token' file, or set FERRY_TOKEN).",
        )
    expected = get_workspace(request).token
    if not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise AuthError(
            "the token is wrong for this workspace; use the 'token' file or FERRY_TOKEN."
        )


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]
Auth = Depends(require_token)
