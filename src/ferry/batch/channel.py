"""The engine's side of one worker socket: non-blocking frames for a selector loop.

Frames are those of :mod:`ferry.runtime.frames` (``!II`` lengths, JSON header, raw body). Headers
the engine sends are encoded with ``ensure_ascii``: file names that are not UTF-8 reach Python as
lone surrogates, which JSON escapes as ``\\udcXX`` and the worker decodes back to the very same
``str``. Incoming bodies are decoded with ``surrogateescape`` for the same reason.
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Mapping
from typing import Any

from ferry.runtime.frames import (
    MAX_HEADER_BYTES,
    ConnectionClosedError,
    FrameTooLargeError,
    IncompleteFrameError,
    decode_header,
)

__all__ = ["Channel", "encode_frame"]

_PREFIX = struct.Struct("!II")
_RECV = 1 << 20


def encode_frame(header: Mapping[str, Any], body: bytes = b"") -> bytes:
    """One frame, header as ASCII JSON (see the module docstring)."""
    head = json.dumps(header, separators=(",", ":")).encode("ascii")
    return _PREFIX.pack(len(head), len(body)) + head + body


class Channel:
    """A connected, non-blocking socket with an input and an output buffer."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self._in = bytearray()
        self._out = bytearray()
        self.closed = False

    def fileno(self) -> int:
        return self.sock.fileno()

    @property
    def wants_write(self) -> bool:
        """True while queued bytes wait for the socket to accept them."""
        return bool(self._out)

    def send(self, header: Mapping[str, Any], body: bytes = b"") -> None:
        """Queue one frame and write as much as the socket takes now.

        Raises:
            OSError: the peer is gone (the caller treats the worker as lost).
        """
        self._out += encode_frame(header, body)
        self.flush()

    def flush(self) -> None:
        """Write queued bytes without blocking."""
        while self._out:
            try:
                sent = self.sock.send(self._out)
            except (BlockingIOError, InterruptedError):
                return
            del self._out[:sent]

    def receive(self) -> list[tuple[dict[str, Any], bytes]]:
        """Read what the socket has and return the complete frames in it (maybe none).

        Raises:
            ConnectionClosedError: the peer closed the connection between frames.
            IncompleteFrameError: the peer closed it in the middle of a frame.
            FrameError: the stream is corrupt.
            OSError: the connection broke.
        """
        try:
            chunk = self.sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            return []
        if not chunk:
            if self._in:
                raise IncompleteFrameError("connection closed mid-frame")
            raise ConnectionClosedError("the worker closed the connection")
        self._in += chunk
        frames: list[tuple[dict[str, Any], bytes]] = []
        buf = self._in
        pos = 0
        while len(buf) - pos >= _PREFIX.size:
            header_len, body_len = _PREFIX.unpack_from(buf, pos)
            if header_len > MAX_HEADER_BYTES:
                raise FrameTooLargeError(f"frame header length {header_len} is over the limit")
            end = pos + _PREFIX.size + header_len + body_len
            if len(buf) < end:
                break
            start = pos + _PREFIX.size
            header = decode_header(bytes(buf[start : start + header_len]))
            frames.append((header, bytes(buf[start + header_len : end])))
            pos = end
        if pos:
            del buf[:pos]
        return frames

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.sock.close()
