"""An ASGI middleware that bounds request bodies per route and refuses bigger ones with a JSON 413.

JSON routes read their whole body into memory to parse it, so they get a small limit
(``max_json_bytes``). Asset uploads are streamed to spooled temporary files by the multipart
parser, so only they get the large one (``max_upload_bytes``), and only as multipart. An upload
path may name a segment as a route does (``/studio/batch-endpoints/{name}/invoke``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ferry.errors import PayloadTooLargeError

__all__ = ["BodySizeLimit"]


@dataclass(frozen=True)
class _Limit:
    max_bytes: int
    setting: str
    what: str


class BodySizeLimit:
    """Check ``Content-Length`` up front and count streamed bytes (chunked bodies have none)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_json_bytes: int,
        max_upload_bytes: int,
        upload_paths: Collection[str],
    ) -> None:
        self.app = app
        self.json = _Limit(max_json_bytes, "FERRY_MAX_JSON_BYTES", "request body")
        self.upload = _Limit(max_upload_bytes, "FERRY_MAX_UPLOAD_BYTES", "upload")
        self.upload_paths = frozenset(p for p in upload_paths if "{" not in p)
        templates = [p for p in upload_paths if "{" in p]
        self.upload_templates = [
            re.compile(re.sub(r"\\\{[^/]*?\\\}", "[^/]+", re.escape(p))) for p in templates
        ]

    def _limit(self, scope: Scope, headers: dict[bytes, bytes]) -> _Limit:
        multipart = headers.get(b"content-type", b"").startswith(b"multipart/form-data")
        path: str = scope["path"]
        if scope["method"] == "POST" and multipart:
            path = path.rstrip("/")
            if path in self.upload_paths or any(t.fullmatch(path) for t in self.upload_templates):
                return self.upload
        return self.json

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        limit = self._limit(scope, headers)
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit.max_bytes:
            await _refuse(send, limit, int(declared))
            return
        seen = 0
        over = started = replaced = False

        async def counting_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit.max_bytes:
                    over = True
                    raise _error(limit, seen)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                if over:
                    # The app answered the error we raised in its own way (FastAPI turns a
                    # failure while reading a JSON body into a 400): send the 413 instead.
                    replaced = True
                    await _refuse(send, limit, seen)
                    return
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except PayloadTooLargeError:
            if not started and not replaced:
                await _refuse(send, limit, seen)


def _error(limit: _Limit, size: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the {limit.what} ({size} bytes or more) exceeds the server's limit of "
        f"{limit.max_bytes} bytes; raise {limit.setting} on the server or send less.",
        details={"limit": limit.max_bytes, "setting": limit.setting},
    )


async def _refuse(send: Send, limit: _Limit, size: int) -> None:
    # connection: close, so the server stops reading the rest of the body instead of
    # draining it to keep the connection alive.
    body = json.dumps(_error(limit, size).to_payload()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
