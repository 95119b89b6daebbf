"""Replica logs on the online endpoint page: the files, their tail, and following one live.

Following is a server-sent event stream of complete lines; each event's id is the byte offset
just after its line, so a browser that reconnects (sending ``Last-Event-ID``) resumes exactly
there, with no line lost or repeated. A line is sent as an escaped HTML fragment, ready for
htmx's SSE extension to append.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Request
from fastapi.responses import StreamingResponse
from markupsafe import escape

__all__ = ["follow_log", "log_files", "tail_lines"]

#: How often a followed file is checked for new lines, and a quiet stream says it is alive.
POLL_S = 0.25
HEARTBEAT_S = 15.0
#: The most a tail reads from the end of a file (a replica log can be large).
_TAIL_BYTES = 512 * 1024
_CHUNK = 64 * 1024


def log_files(folder: Path) -> list[str]:
    """The deployment's log files: one per replica, and ``prepare.log`` (its preparation)."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.glob("*.log") if p.is_file())


def tail_lines(path: Path, count: int) -> tuple[list[str], int]:
    """The last ``count`` complete lines of ``path`` and the byte offset just after them.

    A line still being written (no newline yet) is left for the follower to send.
    """
    if not path.is_file():
        return [], 0
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        start = max(0, size - _TAIL_BYTES)
        handle.seek(start)
        data = handle.read(size - start)
    end = data.rfind(b"\n") + 1  # complete lines only
    complete = data[:end]
    if start > 0:  # the first line was cut by the window: drop it
        complete = complete[complete.find(b"\n") + 1 :]
    lines = complete.decode("utf-8", errors="replace").splitlines()
    return lines[-count:], start + end


def _event(offset: int, line: bytes) -> bytes:
    text = line.rstrip(b"\r\n").decode("utf-8", errors="replace")
    fragment = f'<div class="log-line">{escape(text)}</div>'
    # A data field ends at a newline; the escaped fragment has none (the line's is stripped).
    return f"id: {offset}\nevent: line\ndata: {fragment}\n\n".encode()


async def _follow(request: Request, path: Path, start: int) -> AsyncIterator[bytes]:
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        size = await asyncio.to_thread(handle.seek, 0, 2)
        offset = start if start <= size else 0  # the file was replaced: from its start
        await asyncio.to_thread(handle.seek, offset)
        pending = b""
        quiet_since = time.monotonic()
        yield b"retry: 1000\n\n"
        while not await request.is_disconnected():
            chunk = await asyncio.to_thread(handle.read, _CHUNK)
            if not chunk:
                if time.monotonic() - quiet_since > HEARTBEAT_S:
                    quiet_since = time.monotonic()
                    yield b": alive\n\n"
                await asyncio.sleep(POLL_S)
                continue
            pending += chunk
            events = []
            while (cut := pending.find(b"\n")) >= 0:
                line, pending = pending[: cut + 1], pending[cut + 1 :]
                offset += len(line)
                events.append(_event(offset, line))
            if events:
                quiet_since = time.monotonic()
                yield b"".join(events)
    finally:
        handle.close()


def follow_log(request: Request, path: Path, start: int) -> StreamingResponse:
    """An SSE response following ``path`` from byte ``start``."""
    return StreamingResponse(
        _follow(request, path, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
