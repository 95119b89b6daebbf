"""Shared route dependencies: the workspace and the bearer-token check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ferry.server.gate import missing_token, wrong_token
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
    # The TokenGate middleware already refused these before the body was read; this check
    # stays so the routes hold on their own and OpenAPI documents bearer auth.
    if credentials is None:
        raise missing_token()
    expected = get_workspace(request).token
    if not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise wrong_token()


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]
Auth = Depends(require_token)
