"""Length-prefixed frames between the server and a worker: a JSON header plus raw body bytes.

Wire format of one frame::

    struct "!II" (header length, body length) | header: UTF-8 JSON object | body: raw bytes

The header always holds a ``kind`` (see :mod:`.messages`). Bodies stay raw so that images and
large payloads are never base64-encoded. The blocking helpers here serve the worker; the server
reads the same frames without blocking (:mod:`ferry.batch.channel`, :mod:`ferry.online.channel`).
Errors form one small tree, all of them :class:`ConnectionError`::

    FrameError                 the stream cannot be used any more
    ├── ConnectionClosedError       the peer closed the connection between two frames (a clean end)
    ├── IncompleteFrameError        the peer closed the connection in the middle of a frame
    ├── FrameTooLargeError          a length prefix is over the limit (corrupt stream or wrong peer)
    └── BadFrameError               the header is not a UTF-8 JSON object with a string "kind"
"""

from __future__ import annotations

import json
import struct

TYPE_CHECKING = False  # not typing's: see messages.py
if TYPE_CHECKING:
    import socket
    from collections.abc import Mapping
    from typing import Any

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_HEADER_BYTES",
    "BadFrameError",
    "ConnectionClosedError",
    "FrameError",
    "FrameTooLargeError",
    "IncompleteFrameError",
    "decode_header",
    "encode_frame",
    "recv_frame",
    "send_frame",
]

_PREFIX = struct.Struct("!II")
MAX_HEADER_BYTES = 16 * 1024 * 1024
"""Headers hold metadata only; anything this large means a corrupt stream."""
MAX_BODY_BYTES = 0xFFFFFFFF
"""The length prefix is 32 bits, so one body holds at most 4 GiB - 1."""
_COPY_LIMIT = 64 * 1024


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


def _encode_head(header: Mapping[str, Any], body_len: int) -> bytes:
    # ASCII JSON (\u escapes) so strings holding lone surrogates, e.g. file names that are not
    # UTF-8, or error messages quoting them, still cross the socket.
    header_bytes = json.dumps(header, separators=(",", ":")).encode("ascii")
    if len(header_bytes) > MAX_HEADER_BYTES:
        raise FrameTooLargeError(
            f"frame header is {len(header_bytes)} bytes, over the {MAX_HEADER_BYTES}-byte limit; "
            "put large data in the body"
        )
    if body_len > MAX_BODY_BYTES:
        raise FrameTooLargeError(
            f"frame body is {body_len} bytes, over the {MAX_BODY_BYTES}-byte limit"
        )
    return _PREFIX.pack(len(header_bytes), body_len) + header_bytes


def encode_frame(header: Mapping[str, Any], body: bytes = b"") -> bytes:
    """Serialise one frame; raises FrameTooLargeError if the header or body is over the limit."""
    return _encode_head(header, len(body)) + bytes(body)


def _check_lengths(header_len: int, body_len: int, max_header: int) -> None:
    if header_len > max_header:
        raise FrameTooLargeError(
            f"frame header length {header_len} is over the {max_header}-byte limit; "
            "the peer does not speak the Ferry worker protocol or the stream is corrupt"
        )


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


def send_frame(sock: socket.socket, header: Mapping[str, Any], body: bytes = b"") -> None:
    """Send one frame on a blocking socket."""
    head = _encode_head(header, len(body))
    if len(body) < _COPY_LIMIT:
        sock.sendall(head + body)  # one segment: small frames are not split by Nagle delays
    else:
        sock.sendall(head)  # big bodies are sent as they are, not copied
        sock.sendall(body)


def _recv_exactly(sock: socket.socket, n: int, what: str, at_boundary: bool) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        chunk = sock.recv_into(view[got:], min(n - got, 1 << 20))
        if chunk == 0:
            if at_boundary and got == 0:
                raise ConnectionClosedError("the peer closed the connection")
            raise IncompleteFrameError(
                f"connection closed mid-frame: expected {n} bytes of {what}, got {got}"
            )
        got += chunk
    return bytes(buf)


def recv_frame(
    sock: socket.socket, max_header: int = MAX_HEADER_BYTES
) -> tuple[dict[str, Any], bytes]:
    """Receive one frame from a blocking socket.

    Raises:
        ConnectionClosedError: the peer closed the connection before the frame began.
        IncompleteFrameError: the peer closed the connection mid-frame.
        FrameTooLargeError: the header length is over ``max_header``.
        BadFrameError: the header is not a JSON object with a ``kind``.
    """
    prefix = _recv_exactly(sock, _PREFIX.size, "length prefix", at_boundary=True)
    header_len, body_len = _PREFIX.unpack(prefix)
    _check_lengths(header_len, body_len, max_header)
    header = decode_header(_recv_exactly(sock, header_len, "header", at_boundary=False))
    body = _recv_exactly(sock, body_len, "body", at_boundary=False) if body_len else b""
    return header, body
