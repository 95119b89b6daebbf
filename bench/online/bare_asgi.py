"""The control: a bare ASGI app on the same uvicorn stack as Ferry's server (uvloop, httptools).

It reads the body and answers the trivial script's fixed list, with no auth, no routing and no
replica: what one uvicorn process costs per request before Ferry's gateway does anything.
"""

from __future__ import annotations

from typing import Any

ANSWER = b'[16, 120, "ok"]'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(ANSWER))]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})
