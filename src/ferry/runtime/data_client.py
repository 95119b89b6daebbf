"""The worker's side of the data agent (:mod:`ferry.workers.data_agent`).

When the job's data lives on a datastore the worker cannot open (S3, Azure Blob, or the server's
disk seen from a Ray node), ``FERRY_DATA_AGENT`` names the agent's unix socket: the worker asks it
for the mini-batch's files before ``run()`` and to commit the script's output files after.

Standard library only: this runs on the deployment's interpreter.
"""

from __future__ import annotations

import json
import os
import socket

TYPE_CHECKING = False  # not typing's: see messages.py
if TYPE_CHECKING:
    from typing import IO, Any

__all__ = ["AGENT_ENV", "DataAgentClient", "DataAgentError", "from_environ"]

AGENT_ENV = "FERRY_DATA_AGENT"


class DataAgentError(RuntimeError):
    """The agent could not fetch or commit; the message names the datastore and path."""


class DataAgentClient:
    """One connection to the agent, opened on first use."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._sock: socket.socket | None = None
        self._replies: IO[bytes] | None = None

    def fetch(self, items: list[str]) -> list[str]:
        """The local paths of the mini-batch's ``items``, fetched onto this machine."""
        return list(self._call({"op": "fetch", "items": list(items)})["paths"])

    def prefetch(self, items: list[str]) -> None:
        """Have the agent fetch the next mini-batch's ``items`` while this one runs."""
        self._call({"op": "prefetch", "items": list(items)})

    def finish(self, commit: bool) -> list[str]:
        """Commit the output files ``run()`` wrote (or drop them) and clear the fetched items."""
        return list(self._call({"op": "finish", "commit": commit})["committed"])

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        if self._sock is None or self._replies is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._sock.connect(self.path)
            self._replies = self._sock.makefile("rb")
        self._sock.sendall(json.dumps(request).encode("utf-8") + b"\n")
        line = self._replies.readline()
        if not line:
            raise DataAgentError(f"the data agent at {self.path} closed the connection")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise DataAgentError(str(reply["error"]))
        return reply


def from_environ() -> DataAgentClient | None:
    """The agent this worker was started with, or None (its files are on this machine)."""
    path = os.environ.get(AGENT_ENV)
    return DataAgentClient(path) if path else None
