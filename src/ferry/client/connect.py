"""Find the server for the given settings: a remote URL, or the local workspace's (auto-started)."""

from __future__ import annotations

from ferry.errors import AuthError, ServerError
from ferry.local_workspace.launcher import server_status, start_background
from ferry.local_workspace.layout import WorkspaceLayout
from ferry.settings import Settings

__all__ = ["connect_info"]


def connect_info(settings: Settings, *, autostart: bool = True) -> tuple[str, str]:
    """Return (base URL, token). Starts a local server when none runs, like ``ray.init()``."""
    if settings.server_url:
        if not settings.token:
            raise AuthError(
                f"FERRY_SERVER_URL is {settings.server_url} but no token is set; set FERRY_TOKEN "
                "to the remote workspace's token."
            )
        return settings.server_url, settings.token
    info = server_status(settings)
    if info is None:
        if not autostart:
            raise ServerError(
                f"no Ferry server is running for workspace {settings.resolved_workspace}; "
                "start it with `ferry server start`."
            )
        info = start_background(settings)
    token = settings.token or WorkspaceLayout(settings.resolved_workspace).read_token()
    if not token:
        raise AuthError(
            f"workspace {settings.resolved_workspace} has no token file; restart its server."
        )
    return str(info["url"]), token
