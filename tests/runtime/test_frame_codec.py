"""The one frame codec (ferry.runtime.frames), and the three ends that read frames through it.

The decoder is fed by hand (byte by byte, several frames at once, random cuts); the batch
engine's channel and the online gateway's channel are driven over real sockets, so an oversize
header gets the same error naming the limit at every end.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
from typing import Any

import pytest

from ferry.batch.channel import Channel as BatchChannel
from ferry.online.channel import Channel as OnlineChannel
from ferry.online.channel import Hub as OnlineHub
from ferry.runtime.frames import (
    MAX_BODY_BYTES,
    MAX_HEADER_BYTES,
    BadFrameError,
    ConnectionClosedError,
    FrameDecoder,
    FrameError,
    FrameTooLargeError,
    IncompleteFrameError,
    encode_frame,
    encode_head,
    recv_frame,
)

Frame = tuple[dict[str, Any], bytes]

ODD = b"/data/caf\xe9.txt".decode("utf-8", "surrogateescape")  # a file name that is not UTF-8
FRAMES: list[Frame] = [
    ({"kind": "ready", "worker_id": "w-0", "pid": 1}, b""),
    ({"kind": "run_batch", "id": 1, "items": [ODD, "/data/b.txt"], "note": "é✓"}, b""),
    ({"kind": "result", "id": 1, "n_items": 2}, b"line one\nline two\n"),
    ({"kind": "score", "id": 2}, bytes(range(256)) * 300),  # 76,800 bytes, every byte value
    ({"kind": "pong", "id": 3}, b"\x00"),
]
WIRE = b"".join(encode_frame(h, b) for h, b in FRAMES)
OVERSIZE_PREFIX = struct.pack("!II", MAX_HEADER_BYTES + 1, 0)
LIMIT_MESSAGE = (
    f"frame header length {MAX_HEADER_BYTES + 1} is over the {MAX_HEADER_BYTES}-byte limit "
    "(MAX_HEADER_BYTES); the peer does not speak the Ferry worker protocol"
)


def _feed_in_pieces(decoder: FrameDecoder, data: bytes, cuts: list[int]) -> list[Frame]:
    frames: list[Frame] = []
    start = 0
    for end in [*cuts, len(data)]:
        frames.extend(decoder.feed(data[start:end]))
        start = end
    return frames


def test_frames_fed_byte_by_byte_come_out_whole_and_in_order() -> None:
    decoder = FrameDecoder()
    out: list[Frame] = []
    completed_at: list[int] = []
    for i in range(len(WIRE)):
        got = list(decoder.feed(WIRE[i : i + 1]))
        if got:
            completed_at.append(i + 1)
        out.extend(got)
    assert out == FRAMES
    assert out[1][0]["items"][0] == ODD  # a lone surrogate crosses as the very same str
    # Each frame came out on the very byte that completed it, not before and not later.
    ends, total = [], 0
    for header, body in FRAMES:
        total += len(encode_frame(header, body))
        ends.append(total)
    assert completed_at == ends
    assert decoder.buffered == 0
    with pytest.raises(ConnectionClosedError):
        decoder.end()


def test_several_frames_in_one_chunk_and_a_frame_split_over_chunks() -> None:
    decoder = FrameDecoder()
    first_two = len(encode_frame(*FRAMES[0])) + len(encode_frame(*FRAMES[1]))
    # Two whole frames and 5 bytes of the third in one chunk: the two come out, the rest waits.
    assert list(decoder.feed(WIRE[: first_two + 5])) == FRAMES[:2]
    assert decoder.buffered == 5
    assert list(decoder.feed(WIRE[first_two + 5 :])) == FRAMES[2:]
    assert decoder.buffered == 0


@pytest.mark.parametrize("seed", range(20))
def test_any_cut_of_the_stream_decodes_to_the_same_frames(seed: int) -> None:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(WIRE)), rng.randint(1, 40)))
    assert _feed_in_pieces(FrameDecoder(), WIRE, cuts) == FRAMES


def test_feed_buffers_at_once_even_when_the_result_is_not_iterated() -> None:
    decoder = FrameDecoder()
    decoder.feed(WIRE)  # the bytes are in the decoder now; the frames wait to be taken
    assert decoder.buffered == len(WIRE)
    assert list(decoder.feed()) == FRAMES


def test_an_oversize_header_is_refused_from_its_prefix_alone() -> None:
    decoder = FrameDecoder()
    # The 8-byte prefix is enough: the decoder does not wait for 16 MiB that will never be sent.
    with pytest.raises(
        FrameTooLargeError, match=LIMIT_MESSAGE.replace("(", r"\(").replace(")", r"\)")
    ):
        list(decoder.feed(OVERSIZE_PREFIX))
    with pytest.raises(FrameTooLargeError):
        decoder.needed()


def test_frames_before_a_broken_one_are_delivered_and_the_stream_stays_broken() -> None:
    decoder = FrameDecoder()
    frames = decoder.feed(encode_frame(*FRAMES[0]) + OVERSIZE_PREFIX)
    assert next(frames) == FRAMES[0]
    with pytest.raises(FrameTooLargeError, match="MAX_HEADER_BYTES"):
        next(frames)
    # Whatever comes after, the stream cannot be resynchronised: the same error again.
    with pytest.raises(FrameTooLargeError, match="MAX_HEADER_BYTES"):
        list(decoder.feed(encode_frame(*FRAMES[1])))


def test_a_smaller_header_limit_is_named_in_the_error() -> None:
    decoder = FrameDecoder(max_header=100)
    header = {"kind": "k", "pad": "x" * 100}
    with pytest.raises(FrameTooLargeError, match="over the 100-byte limit"):
        list(decoder.feed(encode_frame(header)[:8]))


def test_an_oversize_body_is_refused_from_its_prefix_alone() -> None:
    decoder = FrameDecoder(max_body=1000)
    data = encode_frame({"kind": "result"}, b"x" * 1001)
    with pytest.raises(FrameTooLargeError, match="frame body length 1001 is over the 1000-byte"):
        list(decoder.feed(data[:8]))
    ok = FrameDecoder(max_body=1000)
    assert list(ok.feed(encode_frame({"kind": "result"}, b"x" * 1000))) == [
        ({"kind": "result"}, b"x" * 1000)
    ]


def test_the_encoder_refuses_what_the_decoder_would_refuse() -> None:
    with pytest.raises(FrameTooLargeError, match=rf"over the {MAX_BODY_BYTES}-byte limit"):
        encode_head({"kind": "result"}, MAX_BODY_BYTES + 1)
    huge = {"kind": "run_batch", "items": ["x" * MAX_HEADER_BYTES]}
    with pytest.raises(FrameTooLargeError, match=rf"over the {MAX_HEADER_BYTES}-byte limit"):
        encode_frame(huge)
    head = encode_head({"kind": "result"}, 5)
    assert list(FrameDecoder().feed(head + b"12345")) == [({"kind": "result"}, b"12345")]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not UTF-8 JSON"),
        (b"\xff\xfe{}", "not UTF-8 JSON"),
        (b"[1, 2]", 'a JSON object with a string "kind"'),
        (b'{"id": 1}', 'a JSON object with a string "kind"'),
        (b'{"kind": 7}', 'a JSON object with a string "kind"'),
    ],
)
def test_bad_headers_are_refused(raw: bytes, message: str) -> None:
    with pytest.raises(BadFrameError, match=message):
        list(FrameDecoder().feed(struct.pack("!II", len(raw), 0) + raw))


@pytest.mark.parametrize("seed", range(30))
def test_garbage_raises_only_frame_errors(seed: int) -> None:
    # Random bytes are not a stream of frames: the decoder says so with a FrameError (or waits
    # for more), never with a struct, Unicode or memory error from deeper down.
    rng = random.Random(seed)
    garbage = bytes(rng.getrandbits(8) for _ in range(rng.randint(8, 400)))
    decoder = FrameDecoder()
    try:
        frames = _feed_in_pieces(decoder, garbage, sorted(rng.sample(range(1, 8), 3)))
    except FrameError as exc:
        assert isinstance(exc, (FrameTooLargeError, BadFrameError))
    else:
        assert frames == []  # random lengths name a frame longer than what came
        assert decoder.buffered == len(garbage)


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (3, "got 3 of the 8-byte length prefix"),
        (8, "got 8 of the frame's 42 bytes"),
        (30, "got 30 of the frame's 42 bytes"),
    ],
)
def test_end_mid_frame_says_how_much_was_in(cut: int, message: str) -> None:
    data = encode_frame({"kind": "result", "id": 1}, b"0123456789")
    assert len(data) == 42
    decoder = FrameDecoder()
    assert list(decoder.feed(data[:cut])) == []
    with pytest.raises(IncompleteFrameError, match=f"connection closed mid-frame: {message}"):
        decoder.end()


def test_needed_never_reaches_past_the_current_frame() -> None:
    decoder = FrameDecoder()
    assert decoder.needed() == 8
    first = encode_frame(*FRAMES[2])
    decoder.feed(first[:3])
    assert decoder.needed() == 5
    decoder.feed(first[3:10])
    assert decoder.needed() == len(first) - 10


def test_recv_frame_reads_one_frame_and_leaves_the_next_on_the_socket() -> None:
    a, b = socket.socketpair()
    with a, b:
        b.settimeout(30)
        a.sendall(WIRE)
        assert recv_frame(b) == FRAMES[0]
        # The next frame's bytes are still on the socket: a plain read sees its prefix.
        second = encode_frame(*FRAMES[1])
        assert b.recv(len(second), socket.MSG_PEEK) == second
        assert [recv_frame(b) for _ in FRAMES[1:]] == FRAMES[1:]
        a.sendall(OVERSIZE_PREFIX)
        with pytest.raises(FrameTooLargeError, match="MAX_HEADER_BYTES"):
            recv_frame(b)


def test_the_batch_channel_decodes_with_the_codec_and_refuses_an_oversize_header() -> None:
    a, b = socket.socketpair()
    channel = BatchChannel(b)
    try:
        a.sendall(WIRE + OVERSIZE_PREFIX)
        got: list[Frame] = []
        with pytest.raises(FrameTooLargeError, match="MAX_HEADER_BYTES") as caught:
            while True:
                for frame in channel.receive():  # the frames before the bad prefix come out
                    got.append(frame)
        assert got == FRAMES
        assert str(caught.value) == str(_error_of(OVERSIZE_PREFIX))
    finally:
        channel.close()
        a.close()


def test_the_batch_channel_tells_a_clean_end_from_a_cut_frame() -> None:
    for tail, error in ((b"", ConnectionClosedError), (WIRE[:20], IncompleteFrameError)):
        a, b = socket.socketpair()
        channel = BatchChannel(b)
        a.sendall(encode_frame(*FRAMES[0]) + tail)
        a.close()
        got: list[Frame] = []
        with pytest.raises(error):
            while True:
                got.extend(channel.receive())
        assert got == [FRAMES[0]]
        channel.close()


class _Recorder:
    """The peer side of an online channel (a replica), recording what reaches it."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.lost = asyncio.Event()

    def attach(self, channel: OnlineChannel, header: dict[str, Any]) -> None:
        self.frames.append((header, b""))

    def on_frame(self, header: dict[str, Any], body: bytes) -> None:
        self.frames.append((header, body))

    def on_lost(self, channel: OnlineChannel) -> None:
        self.lost.set()


def test_the_online_channel_decodes_with_the_codec_and_closes_on_an_oversize_header(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> _Recorder:
        hub = OnlineHub()
        await hub.start()
        peer = _Recorder()
        hub.expect("w-0", peer, "t0ken")
        reader, writer = await asyncio.open_unix_connection(hub.address)
        # The ready frame carries the deployment's token (the hub takes it out of the header).
        first = encode_frame({**FRAMES[0][0], "token": "t0ken"}, FRAMES[0][1])
        wire = first + WIRE[len(encode_frame(*FRAMES[0])) :]
        # Written byte by byte: the gateway's channel gets the frames in as many pieces.
        for i in range(len(wire)):
            writer.write(wire[i : i + 1])
            await writer.drain()
        writer.write(OVERSIZE_PREFIX)
        await writer.drain()
        await asyncio.wait_for(peer.lost.wait(), 30)
        assert await asyncio.wait_for(reader.read(), 30) == b""  # the gateway closed it
        writer.close()
        await hub.close()
        return peer

    with caplog.at_level(logging.ERROR, logger="ferry.online"):
        peer = asyncio.run(scenario())
    assert peer.frames == FRAMES  # the ready frame attached the peer, the rest reached it
    assert f"a worker broke the frame protocol ({_error_of(OVERSIZE_PREFIX)})" in caplog.text


def _error_of(data: bytes) -> FrameError:
    try:
        list(FrameDecoder().feed(data))
    except FrameError as exc:
        return exc
    raise AssertionError(f"{data!r} decoded without an error")
