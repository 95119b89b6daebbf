"""The gateway's end of the worker sockets: one unix listener, one frame channel per replica.

Replicas on this machine connect to the unix socket; replicas that a cluster's Compute runs on
other machines (transport ``tcp``) connect to a TCP listener on the address the Compute names,
opened the first time a deployment needs it. Either way the first frame decides who they are:
it must carry the worker id the hub expects and that deployment's token, or the connection is
dropped before it reaches a replica.

Replica processes run ``ferry.runtime.worker --mode online --connect <socket>`` and announce
themselves with their first frame (``ready`` or ``init_failed``, both carrying ``worker_id``).
From then on every frame on that connection goes to the claiming :class:`Peer`. Frames are
decoded (:class:`~ferry.runtime.frames.FrameDecoder`, the codec every end of the protocol uses)
straight from ``data_received`` (an :class:`asyncio.Protocol`, no reader task), so an answer
reaches the waiting request without an extra hop through the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
from typing import Any, Protocol, cast

from ferry import sockdirs
from ferry.runtime.frames import FrameDecoder, FrameError, encode_frame
from ferry.runtime.messages import token_matches

__all__ = ["Channel", "Hub", "Peer"]

_log = logging.getLogger("ferry.online")


class Peer(Protocol):
    """The side that owns a channel once the worker announced itself (a replica)."""

    def attach(self, channel: Channel, header: dict[str, Any]) -> None: ...

    def on_frame(self, header: dict[str, Any], body: bytes) -> None: ...

    def on_lost(self, channel: Channel) -> None: ...


class Channel(asyncio.Protocol):
    """One worker connection: parses frames and hands them to its peer."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._decoder = FrameDecoder()
        self._peer: Peer | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Answers are small frames: without this, Nagle + delayed ACK add ~40 ms to each.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        try:
            for header, body in self._decoder.feed(data):
                if self._peer is None:
                    self._peer = self._hub.claim(header, self)
                    if self._peer is None:
                        self.close()
                        return
                    self._peer.attach(self, header)
                else:
                    self._peer.on_frame(header, body)
        except FrameError as exc:  # the frames before the broken one were delivered
            self._broken(str(exc))

    def _broken(self, why: str) -> None:
        _log.error("a worker broke the frame protocol (%s); closing its connection", why)
        self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        peer, self._peer = self._peer, None
        if peer is not None:
            peer.on_lost(self)

    def send(self, header: dict[str, Any], body: bytes = b"") -> None:
        """Queue one frame; the transport writes it without blocking the loop."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode_frame(header, body))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _peer_name(channel: Channel) -> str:
    peer = channel.transport.get_extra_info("peername") if channel.transport else None
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return "the unix socket"


class Hub:
    """The unix socket every replica connects to, in a private temporary folder."""

    def __init__(self) -> None:
        self._expected: dict[str, tuple[Peer, str]] = {}
        self._server: asyncio.AbstractServer | None = None
        # Short and private: AF_UNIX paths hold ~100 bytes, and no other user may connect.
        # Named by this process, so a server that starts after it was killed removes it.
        self._dir = sockdirs.make("online")
        self.address = str(self._dir / "gw.sock")
        self._tcp: dict[str, tuple[asyncio.AbstractServer, str]] = {}

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(lambda: Channel(self), self.address)

    async def address_for(self, transport: str, host: str) -> str:
        """Where a worker started by a Compute with ``transport`` connects: the unix socket, or
        ``host:port`` of a TCP listener on ``host`` (one per host, opened on first use; workers
        on a cluster's nodes reach this machine there). Strangers who connect are dropped by
        :meth:`claim`: they know neither a launch's worker id nor its deployment's token."""
        if transport == "unix":
            return self.address
        found = self._tcp.get(host)
        if found is None:
            loop = asyncio.get_running_loop()
            server = await loop.create_server(lambda: Channel(self), host, 0)
            port = server.sockets[0].getsockname()[1]
            found = self._tcp[host] = (server, f"{host}:{port}")
        return found[1]

    def expect(self, worker_id: str, peer: Peer, token: str) -> None:
        """The next connection announcing ``worker_id`` with ``token`` belongs to ``peer``."""
        self._expected[worker_id] = (peer, token)

    def forget(self, worker_id: str) -> None:
        self._expected.pop(worker_id, None)

    def claim(self, header: dict[str, Any], channel: Channel) -> Peer | None:
        worker_id = str(header.get("worker_id"))
        expected = self._expected.get(worker_id)
        # The token is checked (and taken out of the header) before the id is given up: a
        # stranger who guessed an id must not take the real replica's place.
        if expected is None or not token_matches(header, expected[1]):
            _log.warning(
                "dropped a worker connection from %s: unknown worker or wrong token",
                _peer_name(channel),
            )
            return None
        del self._expected[worker_id]
        return expected[0]

    async def close(self) -> None:
        servers = [s for s, _ in self._tcp.values()]
        if self._server is not None:
            servers.append(self._server)
        for server in servers:
            server.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()
        shutil.rmtree(self._dir, ignore_errors=True)
