"""An ASGI middleware that keeps every studio path but the login page behind a session.

Static files are a mount, where no route dependency runs, and a studio upload must not be read
before its sender is known; so, like the API's token gate, this answers from the headers alone.
A browser is sent to the login page (303, coming back afterwards); an htmx request gets 401 with
``HX-Redirect``, which htmx follows instead of swapping a login page into a fragment.
"""

from __future__ import annotations

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from ferry.studio.auth import COOKIE, OPEN_PATHS, StudioAuth, login_path

__all__ = ["StudioGate"]


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {bytes(k).lower(): bytes(v) for k, v in scope.get("headers") or []}


class StudioGate:
    """Refuse ``/studio/...`` requests without a live session (login and its CSS stay open)."""

    def __init__(self, app: ASGIApp, auth: StudioAuth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if (path == "/studio" or path.startswith("/studio/")) and path not in OPEN_PATHS:
                headers = _headers(scope)
                cookies = cookie_parser(headers.get(b"cookie", b"").decode("latin-1"))
                if self.auth.session(cookies.get(COOKIE)) is None:
                    query = scope.get("query_string", b"").decode("latin-1")
                    target = login_path(path + (f"?{query}" if query else ""))
                    await _redirect(send, target, htmx=b"hx-request" in headers)
                    return
        await self.app(scope, receive, send)


async def _redirect(send: Send, target: str, *, htmx: bool) -> None:
    body = b"not signed in to the studio; run `ferry studio` for a login URL.\n"
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"connection", b"close"),  # the unread body, if any, is never drained
    ]
    if htmx:
        headers.append((b"hx-redirect", target.encode()))
    else:
        headers.append((b"location", target.encode()))
    await send({"type": "http.response.start", "status": 401 if htmx else 303, "headers": headers})
    await send({"type": "http.response.body", "body": body})
