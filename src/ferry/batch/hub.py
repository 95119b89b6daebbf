"""The engine's listening socket and its worker connections, multiplexed by one selector.

Workers connect, then announce themselves with their first frame (``ready`` or ``init_failed``,
which carry ``worker_id`` and the job's ``token``); from then on the connection belongs to that
:class:`Worker`. The hub turns socket readiness into events for the dispatcher:
``(worker, header, body)`` for a frame, ``(worker, None, b"")`` when the connection broke.
Connections from strangers (a wrong or missing token, an unknown worker id) are dropped before
they count as a worker.
"""

from __future__ import annotations

import logging
import selectors
import shutil
import socket
from collections.abc import Callable, Mapping
from typing import Any

from ferry import sockdirs
from ferry.batch.channel import Channel
from ferry.batch.pool import Worker
from ferry.runtime.frames import FrameTooLargeError
from ferry.runtime.messages import token_matches

__all__ = ["Event", "Hub"]

_log = logging.getLogger("ferry.batch")

Event = tuple[Worker, dict[str, Any] | None, bytes]
_DRAIN_READS = 64  # a worker that exited left at most this many reads of data behind


class _Slot:
    __slots__ = ("channel", "peer", "worker")

    def __init__(self, channel: Channel, peer: str) -> None:
        self.channel = channel
        self.peer = peer  # for the line that says a stranger was dropped
        self.worker: Worker | None = None


class Hub:
    """Accepts worker connections and reads their frames without blocking."""

    def __init__(
        self,
        transport: str,
        lookup: Callable[[str], Worker | None],
        token: str,
        host: str = "127.0.0.1",
    ) -> None:
        self._lookup = lookup
        # The job's secret: its workers get it in their environment and send it first.
        self._token = token
        self._sel = selectors.DefaultSelector()
        # Named by this process, so a server that starts after it was killed removes it.
        self._tmp = sockdirs.make("batch")
        if transport == "unix":
            # A short private folder: AF_UNIX paths hold ~100 bytes, and no one else may connect.
            path = str(self._tmp / "engine.sock")
            self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._listener.bind(path)
            self.address = path
        else:
            # ``host``: where workers on other machines (a Ray cluster's nodes) reach this one.
            self._listener = socket.create_server((host, 0))
            self.address = f"{host}:{self._listener.getsockname()[1]}"
        self._listener.listen(64)
        self._listener.setblocking(False)
        self._sel.register(self._listener, selectors.EVENT_READ, None)

    def wait(self, timeout: float) -> list[Event]:
        """Wait up to ``timeout`` seconds for I/O; returns the events it produced."""
        events: list[Event] = []
        for key, mask in self._sel.select(timeout):
            if key.data is None:
                self._accept()
            else:
                self._serve(key.data, mask, events)
        return events

    def drain(self, worker: Worker) -> list[Event]:
        """Read what a worker that exited sent before it died (bounded)."""
        events: list[Event] = []
        channel = worker.channel
        if channel is None or channel.closed:
            return events
        slot: _Slot = self._sel.get_key(channel.sock).data
        for _ in range(_DRAIN_READS):
            before = len(events)
            self._serve(slot, selectors.EVENT_READ, events)
            if len(events) == before or events[-1][1] is None:
                break
        return events

    def send(self, worker: Worker, header: Mapping[str, Any], body: bytes = b"") -> bool:
        """Queue a frame for a worker; False when its connection is already broken."""
        channel = worker.channel
        if channel is None or channel.closed:
            return False
        try:
            channel.send(header, body)
        except FrameTooLargeError:
            raise  # the engine's own frame is over the limit: the job fails with the limit named
        except OSError:
            return False
        self._watch(channel)
        return True

    def forget(self, worker: Worker) -> None:
        """Stop watching a worker's connection and close it."""
        channel = worker.channel
        if channel is not None and not channel.closed:
            self._sel.unregister(channel.sock)
            channel.close()

    def close(self) -> None:
        """Close every connection and the listener (again: a no-op)."""
        if self._sel.get_map() is None:
            return  # closed already
        for key in list(self._sel.get_map().values()):
            if key.data is not None:
                key.data.channel.close()
        self._sel.close()
        self._listener.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _accept(self) -> None:
        try:
            sock, addr = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        peer = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else f"unix socket {self.address}"
        self._sel.register(sock, selectors.EVENT_READ, _Slot(Channel(sock), peer))

    def _watch(self, channel: Channel) -> None:
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if channel.wants_write else 0)
        key = self._sel.get_key(channel.sock)
        if key.events != events:
            self._sel.modify(channel.sock, events, key.data)

    def _drop(self, slot: _Slot) -> None:
        self._sel.unregister(slot.channel.sock)
        slot.channel.close()

    def _serve(self, slot: _Slot, mask: int, events: list[Event]) -> None:
        channel = slot.channel
        try:
            if mask & selectors.EVENT_WRITE:
                channel.flush()
                self._watch(channel)
            if not mask & selectors.EVENT_READ:
                return
            # Frames come out one by one: those before a corrupt one still reach the dispatcher.
            for header, body in channel.receive():
                if slot.worker is None:
                    if not token_matches(header, self._token):
                        _log.warning("dropped a worker connection from %s: wrong token", slot.peer)
                        self._drop(slot)
                        return
                    worker = self._lookup(str(header.get("worker_id")))
                    if worker is None or worker.channel is not None:
                        self._drop(slot)  # a stranger, or a second connection of one worker
                        return
                    worker.channel = channel
                    slot.worker = worker
                events.append((slot.worker, header, body))
        except OSError:  # FrameError is a ConnectionError: a broken or corrupt stream
            self._drop(slot)
            if slot.worker is not None:
                events.append((slot.worker, None, b""))
