"""An ASGI middleware that checks the control-plane token from the headers alone.

FastAPI runs route dependencies (``require_token``) only after it has read and parsed the body,
so an unauthenticated client could make the server read, parse and hold hundreds of megabytes
before its 401. This gate answers 401 before the app, and so before any body byte, is touched;
``require_token`` stays on the routes so OpenAPI still documents bearer auth.
"""

from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Receive, Scope, Send

from ferry.errors import AuthError

__all__ = ["TokenGate", "missing_token", "wrong_token"]

# The whole API, its OpenAPI document included (it maps every route an attacker could try).
_GUARDED = "/api/"
_OPEN = frozenset({"/api/v1/health"})


def missing_token() -> AuthError:
    return AuthError(
        "missing Authorization header; send 'Authorization: Bearer <token>' (the token is in "
        "the workspace's 'token' file, or set FERRY_TOKEN).",
    )


def wrong_token() -> AuthError:
    return AuthError("the token is wrong for this workspace; use the 'token' file or FERRY_TOKEN.")


def _check_bearer(authorization: bytes | None, *tokens: str) -> AuthError | None:
    """``None`` when ``authorization`` is ``Bearer <one of tokens>``, else the error to send."""
    if authorization is None:
        return missing_token()
    scheme, _, credentials = authorization.partition(b" ")
    if scheme.lower() != b"bearer" or not credentials.strip():
        return missing_token()
    given = credentials.strip()
    # Every token is compared (no early exit), each in constant time.
    matched = [hmac.compare_digest(given, token.encode()) for token in tokens]
    return None if any(matched) else wrong_token()


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return bytes(value)
    return None


async def _refuse(send: Send, error: AuthError) -> None:
    """Answer 401 and close: the unread body is never drained, the connection just ends."""
    body = json.dumps(error.to_payload()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b"Bearer"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class TokenGate:
    """Refuse ``/api/...`` requests without the workspace token (health stays open)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(_GUARDED) and path.rstrip("/") not in _OPEN:
                error = _check_bearer(_header(scope, b"authorization"), self.token)
                if error is not None:
                    await _refuse(send, error)
                    return
        await self.app(scope, receive, send)
