"""An ASGI middleware that refuses request bodies over a size limit with a JSON 413."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ferry.errors import PayloadTooLargeError

__all__ = ["BodySizeLimit"]


class BodySizeLimit:
    """Check ``Content-Length`` up front and count streamed bytes (chunked bodies have none)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, int(declared))
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise self._error(seen)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except PayloadTooLargeError:
            if not started:
                await self._refuse(send, seen)

    def _error(self, size: int) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"the request body ({size} bytes or more) exceeds the server's limit of "
            f"{self.max_bytes} bytes; raise FERRY_MAX_BODY_BYTES on the server or send less.",
            details={"limit": self.max_bytes},
        )

    async def _refuse(self, send: Send, size: int) -> None:
        body: Any = json.dumps(self._error(size).to_payload()).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})
