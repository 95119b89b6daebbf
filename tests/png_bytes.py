"""A small, real PNG built with the standard library, for byte-for-byte round trips."""

from __future__ import annotations

import struct
import zlib

__all__ = ["png_bytes"]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(width: int = 8, height: int = 4) -> bytes:
    """An RGB gradient; its signature alone (\\x89PNG\\r\\n\\x1a\\n) is not valid UTF-8 text."""
    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 31 % 256, y * 63 % 256, 200)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )
