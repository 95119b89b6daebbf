"""Server-sent events for studio pages: the wire format, resuming by byte offset, following a file.

A followed file's events carry ``id: <byte offset>``: the offset just past the last line the event
holds. A browser's ``EventSource`` sends that id back as ``Last-Event-ID`` when it reconnects,
so a stream picks up at the next unsent byte: no line is lost or sent twice. Only whole lines are
sent while a file grows (a half-written line waits for its newline), so an offset always falls on
a line boundary.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from fastapi import Request
from fastapi.responses import StreamingResponse

from ferry.errors import InvalidInputError

__all__ = [
    "CHUNK",
    "event",
    "file_size",
    "follow_file",
    "read_lines",
    "resume_offset",
    "server_stopping",
    "stream",
]

#: Bytes read per event at most: a big log arrives as several events, not one huge one.
CHUNK = 64 * 1024
#: A comment line every so often keeps proxies and the browser from closing an idle stream.
KEEPALIVE_SECONDS = 15.0
#: What the browser waits before reconnecting after a dropped connection (ms).
RETRY_MS = 1000


def server_stopping() -> bool:
    """True once uvicorn has been asked to stop (SIGTERM or SIGINT).

    uvicorn waits for every open response before it exits, and an event stream never ends on its
    own: without this, one open job page holds ``ferry server stop`` until it kills the server.
    uvicorn installs its ``Server.handle_exit`` with ``signal.signal``; the server it belongs to
    says ``should_exit``. Under anything else (tests in process, another server) this is False.
    """
    handler = signal.getsignal(signal.SIGTERM)
    server = getattr(handler, "__self__", None)
    return bool(getattr(server, "should_exit", False))


def event(data: str, *, name: str | None = None, event_id: str | None = None) -> bytes:
    """One SSE event. Every line of ``data`` becomes a ``data:`` line (the client joins them
    with newlines); a lone CR would end a line in SSE, so it is turned into a newline first."""
    parts = []
    if name:
        parts.append(f"event: {name}\n")
    if event_id is not None:
        parts.append(f"id: {event_id}\n")
    text = data.replace("\r\n", "\n").replace("\r", "\n")
    parts.extend(f"data: {line}\n" for line in text.split("\n"))
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def resume_offset(request: Request) -> int:
    """Where a stream starts: the ``Last-Event-ID`` header (a reconnect) wins over ``?offset=``
    (the page's first connection), else 0. Either must be a byte offset."""
    header = request.headers.get("last-event-id")
    raw, field = (
        (header, "Last-Event-ID") if header else (request.query_params.get("offset"), "offset")
    )
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise InvalidInputError(
            f"{field} must be a byte offset (0 or more), got {raw!r}; reload the page to start "
            "over.",
            details={"field": field},
        )
    return value


def read_lines(path: Path, offset: int, *, final: bool) -> tuple[str, int]:
    """The whole lines of ``path`` from ``offset`` (at most about :data:`CHUNK` bytes) and the
    offset after them. With ``final`` (the file no longer grows) a last line without a newline
    is included too. Bytes that are not UTF-8 are shown as U+FFFD."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read(CHUNK)
            more = handle.read(1) != b""
    except FileNotFoundError:
        return "", offset
    if not data:
        return "", offset
    cut = data.rfind(b"\n") + 1
    if cut == 0:
        # No newline in the chunk: a line longer than CHUNK is sent in pieces; a short
        # unfinished one waits for its end (or for the file to stop growing).
        cut = len(data) if (more or final or len(data) >= CHUNK) else 0
    elif final and not more:
        cut = len(data)
    return data[:cut].decode("utf-8", errors="replace"), offset + cut


async def follow_file(
    path: Path,
    offset: int,
    *,
    finished: Callable[[], bool],
    name: str = "lines",
    poll: float = 0.2,
) -> AsyncIterator[bytes]:
    """Events of the lines of ``path`` from ``offset`` on, as the file grows.

    Each event's data is one or more whole lines, without the last newline; its id is the byte
    offset after them. A line longer than :data:`CHUNK` ends an event named ``part`` instead:
    the next event's first line continues it. When ``finished()`` says the writer is done and
    the end is reached, an ``eof`` event (id: the file's size) ends the stream, so the client
    closes it instead of reconnecting.
    """
    yield f"retry: {RETRY_MS}\n\n".encode()
    idle = 0.0
    while not server_stopping():
        # Decided before reading: a writer that finishes after this read is caught next turn.
        done = await asyncio.to_thread(finished)
        text, new_offset = await asyncio.to_thread(read_lines, path, offset, final=done)
        if new_offset > offset:
            offset = new_offset
            idle = 0.0
            # A line longer than CHUNK comes in pieces: "part" says the next event goes on.
            kind = name if text.endswith("\n") else "part"
            yield event(text.removesuffix("\n"), name=kind, event_id=str(offset))
            continue  # more may be waiting: read again before sleeping
        if done:
            yield event(str(offset), name="eof", event_id=str(offset))
            return
        await asyncio.sleep(poll)
        idle += poll
        if idle >= KEEPALIVE_SECONDS:
            idle = 0.0
            yield b": keep-alive\n\n"


def stream(events: AsyncIterator[bytes]) -> StreamingResponse:
    """An ``text/event-stream`` response that no proxy buffers or caches."""
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
            "X-Content-Type-Options": "nosniff",
        },
    )


def file_size(path: Path) -> int:
    """The file's size, 0 when it does not exist (yet)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
