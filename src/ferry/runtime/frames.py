"""Length-prefixed frames between the server and a worker: one sans-IO codec for both ends.

Wire format of one frame::

    struct "!II" (header length, body length) | header: ASCII JSON object | body: raw bytes

The header always holds a ``kind`` (see :mod:`.messages`). Bodies stay raw so that images and
large payloads are never base64-encoded. :class:`FrameDecoder` turns received bytes into frames
and :func:`encode_frame` frames into bytes, without touching a socket; every reader of the
protocol goes through them, so the size checks and errors are the same everywhere: the worker
(:func:`recv_frame`, a blocking socket), the batch engine (:mod:`ferry.batch.channel`, a
selector loop) and the online gateway (:mod:`ferry.online.channel`, asyncio). Errors form one
small tree, all of them :class:`ConnectionError`::

    FrameError                 the stream cannot be used any more
    ├── ConnectionClosedError       the peer closed the connection between two frames (a clean end)
    ├── IncompleteFrameError        the peer closed the connection in the middle of a frame
    ├── FrameTooLargeError          a length is over the limit (corrupt stream or wrong peer)
    └── BadFrameError               the header is not a UTF-8 JSON object with a string "kind"
"""

from __future__ import annotations

import json
import struct

TYPE_CHECKING = False  # not typing's: see messages.py
if TYPE_CHECKING:
    import socket
    from collections.abc import Iterator, Mapping
    from typing import Any

    #: One decoded frame: the header and the body.
    Frame = tuple[dict[str, Any], bytes]

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_HEADER_BYTES",
    "BadFrameError",
    "ConnectionClosedError",
    "Frame",
    "FrameDecoder",
    "FrameError",
    "FrameTooLargeError",
    "IncompleteFrameError",
    "decode_header",
    "encode_frame",
    "encode_head",
    "recv_frame",
    "send_frame",
]

_PREFIX = struct.Struct("!II")
_PREFIX_BYTES = _PREFIX.size
MAX_HEADER_BYTES = 16 * 1024 * 1024
"""Headers hold metadata only; anything this large means a corrupt stream."""
MAX_BODY_BYTES = 0xFFFFFFFF
"""The length prefix is 32 bits, so one body holds at most 4 GiB - 1."""
_COPY_LIMIT = 64 * 1024
_RECV_BYTES = 1 << 20


class FrameError(ConnectionError):
    """The frame stream is broken; close the connection."""


class ConnectionClosedError(FrameError):
    """The peer closed the connection cleanly, between two frames."""


class IncompleteFrameError(FrameError):
    """The peer closed the connection in the middle of a frame."""


class FrameTooLargeError(FrameError):
    """A frame's header or body is over the size limit."""


class BadFrameError(FrameError):
    """A frame header is not a UTF-8 JSON object with a string ``kind``."""


def encode_head(header: Mapping[str, Any], body_len: int) -> bytes:
    """The length prefix and header of a frame whose body (``body_len`` bytes) follows it.

    Raises FrameTooLargeError if the header or the body is over the limit.
    """
    # ASCII JSON (\u escapes) so strings holding lone surrogates, e.g. file names that are not
    # UTF-8, or error messages quoting them, still cross the socket and decode to the same str.
    header_bytes = json.dumps(header, separators=(",", ":")).encode("ascii")
    if len(header_bytes) > MAX_HEADER_BYTES:
        raise FrameTooLargeError(
            f"frame header is {len(header_bytes)} bytes, over the {MAX_HEADER_BYTES}-byte limit "
            "(MAX_HEADER_BYTES); put large data in the body"
        )
    if body_len > MAX_BODY_BYTES:
        raise FrameTooLargeError(
            f"frame body is {body_len} bytes, over the {MAX_BODY_BYTES}-byte limit "
            "(MAX_BODY_BYTES, the 32-bit length prefix)"
        )
    return _PREFIX.pack(len(header_bytes), body_len) + header_bytes


def encode_frame(header: Mapping[str, Any], body: bytes = b"") -> bytes:
    """Serialise one frame; raises FrameTooLargeError if the header or body is over the limit."""
    return encode_head(header, len(body)) + bytes(body)


def decode_header(raw: bytes) -> dict[str, Any]:
    """Parse a header; raises BadFrameError unless it is a JSON object with a string ``kind``."""
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadFrameError(f"frame header is not UTF-8 JSON: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(header.get("kind"), str):
        raise BadFrameError(
            f'frame header must be a JSON object with a string "kind", got {raw[:200]!r}'
        )
    return header


class FrameDecoder:
    """Bytes in, frames out: the one parser of the frame stream. It does no I/O.

    ``feed`` the bytes as they arrive, in chunks of any size, and iterate what it returns::

        for header, body in decoder.feed(chunk):
            ...

    Each frame leaves the buffer as it is yielded, so frames before a broken one are delivered
    and the error is raised when the iteration reaches it. A length over a limit is refused as
    soon as its 8-byte prefix is in, before the rest arrives. A broken stream stays broken: every
    later iteration raises the same error. Call :meth:`end` when the peer closed the connection.
    """

    __slots__ = ("_buf", "_max_body", "_max_header")

    def __init__(self, max_header: int = MAX_HEADER_BYTES, max_body: int = MAX_BODY_BYTES) -> None:
        self._buf = bytearray()
        self._max_header = max_header
        self._max_body = max_body

    @property
    def buffered(self) -> int:
        """Bytes received that are not part of a frame yielded yet."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview = b"") -> Iterator[Frame]:
        """Buffer ``data`` (now, even if the result is not iterated); iterate the result for the
        complete frames in the buffer.

        Raises (while iterating):
            FrameTooLargeError: a length prefix is over ``max_header`` or ``max_body``.
            BadFrameError: a header is not a JSON object with a string ``kind``.
        """
        if data:
            self._buf += data
        return self._frames()

    def _frames(self) -> Iterator[Frame]:
        buf = self._buf
        max_header, max_body = self._max_header, self._max_body
        while len(buf) >= _PREFIX_BYTES:
            header_len, body_len = _PREFIX.unpack_from(buf)
            if header_len > max_header or body_len > max_body:
                self._check(header_len, body_len)
            header_end = _PREFIX_BYTES + header_len
            end = header_end + body_len
            if len(buf) < end:
                return
            header = decode_header(bytes(buf[_PREFIX_BYTES:header_end]))
            if body_len < _COPY_LIMIT:
                body = bytes(buf[header_end:end])
            else:
                with memoryview(buf) as view:  # one copy of a large body out of the buffer
                    body = bytes(view[header_end:end])
            del buf[:end]  # CPython drops a bytearray's head without moving the rest
            yield header, body

    def _check(self, header_len: int, body_len: int) -> None:
        if header_len > self._max_header:
            raise FrameTooLargeError(
                f"frame header length {header_len} is over the {self._max_header}-byte limit "
                "(MAX_HEADER_BYTES); the peer does not speak the Ferry worker protocol or the "
                "stream is corrupt"
            )
        if body_len > self._max_body:
            raise FrameTooLargeError(
                f"frame body length {body_len} is over the {self._max_body}-byte limit; "
                "the peer does not speak the Ferry worker protocol or the stream is corrupt"
            )

    def needed(self) -> int:
        """Bytes still missing before the frame being received is complete (the next length
        prefix when nothing is buffered), for a reader that must not read past one frame.

        Raises FrameTooLargeError as :meth:`feed` does, once a prefix over a limit is in.
        """
        got = len(self._buf)
        if got < _PREFIX_BYTES:
            return _PREFIX_BYTES - got
        header_len: int
        body_len: int
        header_len, body_len = _PREFIX.unpack_from(self._buf)
        self._check(header_len, body_len)
        return max(_PREFIX_BYTES + header_len + body_len - got, 0)

    def end(self) -> None:
        """The peer closed the connection: say whether that was between frames or inside one.

        Raises:
            ConnectionClosedError: nothing is buffered (a clean end).
            IncompleteFrameError: a frame was cut short; the message says how much was in.
        """
        got = len(self._buf)
        if not got:
            raise ConnectionClosedError("the peer closed the connection")
        if got < _PREFIX_BYTES:
            raise IncompleteFrameError(
                f"connection closed mid-frame: got {got} of the {_PREFIX_BYTES}-byte length prefix"
            )
        header_len, body_len = _PREFIX.unpack_from(self._buf)
        raise IncompleteFrameError(
            f"connection closed mid-frame: got {got} of the frame's "
            f"{_PREFIX_BYTES + header_len + body_len} bytes"
        )


def recv_frame(
    sock: socket.socket, max_header: int = MAX_HEADER_BYTES
) -> tuple[dict[str, Any], bytes]:
    """Receive one frame from a blocking socket (the worker's side), through a FrameDecoder.

    It reads exactly that frame's bytes, never the next frame's, so it keeps no state between
    calls and each read is as large as what is still missing (a 1 MiB chunk at most).

    Raises:
        ConnectionClosedError: the peer closed the connection before the frame began.
        IncompleteFrameError: the peer closed the connection mid-frame.
        FrameTooLargeError: a length is over the limit (before the rest is read).
        BadFrameError: the header is not a JSON object with a ``kind``.
    """
    decoder = FrameDecoder(max_header)
    while True:
        chunk = sock.recv(min(decoder.needed(), _RECV_BYTES))
        if not chunk:
            decoder.end()
        for frame in decoder.feed(chunk):
            return frame


def send_frame(sock: socket.socket, header: Mapping[str, Any], body: bytes = b"") -> None:
    """Send one frame on a blocking socket."""
    head = encode_head(header, len(body))
    if len(body) < _COPY_LIMIT:
        sock.sendall(head + body)  # one segment: small frames are not split by Nagle delays
    else:
        sock.sendall(head)  # big bodies are sent as they are, not copied
        sock.sendall(body)
