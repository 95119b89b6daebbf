"""The engine's side of one worker socket: non-blocking frames for a selector loop.

Frames are encoded and decoded by :mod:`ferry.runtime.frames` (``!II`` lengths, JSON header, raw
body), the codec the worker and the online gateway use too. Headers are ASCII JSON: file names
that are not UTF-8 reach Python as lone surrogates, which JSON escapes as ``\\udcXX`` and the
worker decodes back to the very same ``str``. Incoming bodies are decoded with
``surrogateescape`` for the same reason.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ferry.runtime.frames import FrameDecoder, encode_frame

if TYPE_CHECKING:
    from ferry.runtime.frames import Frame

__all__ = ["Channel"]

_RECV = 1 << 20


class Channel:
    """A connected, non-blocking socket with an input and an output buffer."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self._decoder = FrameDecoder()
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

    def receive(self) -> Iterator[Frame]:
        """Read what the socket has; iterate the result for the complete frames (maybe none).

        A frame leaves the channel as it is yielded, so the frames before a corrupt one come
        out first and the error is raised when the iteration reaches it.

        Raises (when called, or while iterating):
            ConnectionClosedError: the peer closed the connection between frames.
            IncompleteFrameError: the peer closed it in the middle of a frame.
            FrameError: the stream is corrupt (a length over the limit, a bad header).
            OSError: the connection broke.
        """
        try:
            chunk = self.sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            chunk = None
        if chunk == b"":
            self._decoder.end()
        return self._decoder.feed(chunk or b"")

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.sock.close()
