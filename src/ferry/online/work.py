"""Units of work sent to a replica: one request, or a dynamic batch of several.

A request's outcome is the answer frame as the runtime sends it (``result`` or ``error``), set on
the request's future; a batch answer (``results``) is split into one such frame per request, so
the gateway renders both the same way. Requests that already timed out are skipped.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ferry.errors import ErrorCode, GatewayError
from ferry.runtime import messages as m

__all__ = ["Batch", "Outcome", "Single", "replica_lost"]

Outcome = tuple[dict[str, Any], bytes]


def replica_lost(replica: str) -> GatewayError:
    return GatewayError(
        ErrorCode.REPLICA_LOST,
        f"replica {replica} stopped while it was serving this request (crashed, was killed, or "
        "failed its liveness probe); it is being restarted: retry, and see the replica log "
        "(ferry online-deployment get-logs) for why it stopped.",
    )


class Single:
    """One scoring request waiting for its answer."""

    __slots__ = ("body", "enqueued_at", "future", "header")

    def __init__(self, header: dict[str, Any], body: bytes, future: asyncio.Future[Outcome]):
        self.header = header
        self.body = body
        self.future = future
        self.enqueued_at = 0.0

    @property
    def size(self) -> int:
        return 1

    @property
    def done(self) -> bool:
        return self.future.done()

    def frame(self) -> tuple[dict[str, Any], bytes]:
        return self.header, self.body

    def complete(self, header: dict[str, Any] | None, body: bytes, replica: str) -> None:
        if self.future.done():
            return
        if header is None:
            self.future.set_exception(replica_lost(replica))
        else:
            self.future.set_result((header, body))

    def fail(self, error: GatewayError) -> None:
        if not self.future.done():
            self.future.set_exception(error)


class Batch:
    """Several requests scored by one ``score_batch`` frame (the script's ``run_batch``)."""

    __slots__ = ("enqueued_at", "items")

    def __init__(self, items: list[Single]) -> None:
        self.items = items
        self.enqueued_at = time.monotonic()

    @property
    def size(self) -> int:
        return len(self.items)

    @property
    def done(self) -> bool:
        return all(item.done for item in self.items)

    def frame(self) -> tuple[dict[str, Any], bytes]:
        self.items = [item for item in self.items if not item.done]
        requests = []
        for item in self.items:
            spec = {k: v for k, v in item.header.items() if k not in ("kind", "id")}
            spec["body_len"] = len(item.body)
            requests.append(spec)
        header = {"kind": m.SCORE_BATCH, "requests": requests}
        return header, b"".join(item.body for item in self.items)

    def complete(self, header: dict[str, Any] | None, body: bytes, replica: str) -> None:
        if header is None or header.get("kind") != m.RESULTS:
            # The whole frame failed (replica lost, or a protocol error): every request gets it.
            for item in self.items:
                item.complete(header, body, replica)
            return
        results = header.get("items") or []
        offset = 0
        for item, result in zip(self.items, results, strict=False):
            if result.get("ok"):
                size = int(result.get("body_len", 0))
                answer = {
                    "kind": m.RESULT,
                    "status": result.get("status", 200),
                    "headers": result.get("headers") or [],
                }
                item.complete(answer, body[offset : offset + size], replica)
                offset += size
            else:
                answer = {
                    "kind": m.ERROR,
                    "status": result.get("status", 500),
                    "error": result.get("error"),
                }
                item.complete(answer, b"", replica)
        for item in self.items[len(results) :]:
            item.fail(
                GatewayError(ErrorCode.PROTOCOL, "the replica answered fewer items than sent")
            )

    def fail(self, error: GatewayError) -> None:
        for item in self.items:
            item.fail(error)
