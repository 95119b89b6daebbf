from __future__ import annotations

import random
import socket
import struct
import threading

import pytest

from ferry.runtime import messages
from ferry.runtime.frames import (
    BadFrameError,
    ConnectionClosedError,
    FrameTooLargeError,
    IncompleteFrameError,
    encode_frame,
    recv_frame,
    send_frame,
)


def _pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    a.settimeout(30)
    b.settimeout(30)
    return a, b


def test_round_trip_of_many_frames_with_random_sizes() -> None:
    rng = random.Random(7)
    frames = [({"kind": "score", "id": 0}, b"")]
    frames += [
        (
            {"kind": "k", "id": i, "text": "é" * rng.randint(0, 50)},
            rng.randbytes(rng.randint(0, 70_000)),
        )
        for i in range(1, 60)
    ]
    frames.append(({"kind": "big"}, rng.randbytes(12 * 1024 * 1024 + 3)))
    a, b = _pair()

    def sender() -> None:
        for header, body in frames:
            send_frame(a, header, body)
        a.close()

    thread = threading.Thread(target=sender)
    thread.start()
    received = [recv_frame(b) for _ in frames]
    with pytest.raises(ConnectionClosedError):
        recv_frame(b)
    thread.join()
    b.close()
    assert received == frames


def test_strings_with_lone_surrogates_cross_in_headers() -> None:
    odd = b"/data/caf\xe9.txt".decode("utf-8", "surrogateescape")  # a non-UTF-8 file name
    a, b = _pair()
    with a, b:
        send_frame(a, {"kind": "run_batch", "items": [odd], "note": "é✓"})
        header, _ = recv_frame(b)
    assert header["items"] == [odd]
    assert header["note"] == "é✓"


def test_zero_length_body_and_minimal_header() -> None:
    a, b = _pair()
    with a, b:
        send_frame(a, {"kind": "ping"})
        assert recv_frame(b) == ({"kind": "ping"}, b"")


@pytest.mark.parametrize("cut", [1, 7, 8, 12, 20])
def test_eof_mid_frame_is_a_clear_connection_error(cut: int) -> None:
    data = encode_frame({"kind": "result", "id": 1}, b"0123456789")
    a, b = _pair()
    a.sendall(data[:cut])
    a.close()
    with pytest.raises(IncompleteFrameError, match="connection closed mid-frame") as info:
        recv_frame(b)
    assert isinstance(info.value, ConnectionError)
    b.close()


def test_oversized_header_length_is_refused_before_reading() -> None:
    a, b = _pair()
    with a, b:
        a.sendall(struct.pack("!II", 1 << 30, 0))
        with pytest.raises(FrameTooLargeError, match="does not speak the Ferry worker protocol"):
            recv_frame(b)


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'{"id": 1}', b"\xff\xfe"])
def test_bad_headers_are_refused(raw: bytes) -> None:
    a, b = _pair()
    with a, b:
        a.sendall(struct.pack("!II", len(raw), 0) + raw)
        with pytest.raises(BadFrameError):
            recv_frame(b)


def test_split_bodies_round_trip_and_mismatch() -> None:
    lengths, packed = messages.join_bodies([b"a", b"", b"xyz"])
    assert messages.split_bodies(lengths, packed) == [b"a", b"", b"xyz"]
    with pytest.raises(ValueError, match="add up to 5 bytes but the frame body has 4"):
        messages.split_bodies([2, 3], b"abcd")


def test_error_info_is_plain_data_with_user_frames_first() -> None:
    def user_code() -> None:
        raise KeyError("missing")

    try:
        user_code()
    except KeyError as exc:
        info = messages.error_info(exc, "run")
    assert info["type"] == "KeyError"
    assert info["message"] == "'missing'"
    assert info["where"] == "run"
    assert "in user_code" in info["traceback"]
