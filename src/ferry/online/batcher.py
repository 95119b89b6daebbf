"""Dynamic batching: requests that arrive together are scored by one ``run_batch`` call.

Batching is work-conserving: a request that finds a replica idle is sent at once (a batch of
what is waiting), so light load pays no batching delay and no core sits idle while requests
wait. While every replica is busy, requests collect; a batch is sent when it holds
``max_batch_size`` requests, when a replica becomes idle, or when ``max_batch_wait_ms`` passed
since its first request, whichever comes first. Each request keeps its own future and timeout;
the runtime scores every item alone when ``run_batch`` raises, so one bad request never fails its
neighbours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ferry.errors import GatewayError
from ferry.online.work import Batch, Single
from ferry.specs.online import BatchingSettings

__all__ = ["Batcher"]


class Batcher:
    """Collects requests into batches and hands full or due batches to ``dispatch``."""

    def __init__(
        self,
        dispatch: Callable[[Batch], None],
        settings: BatchingSettings,
        idle: Callable[[], bool] = lambda: False,
    ) -> None:
        self._dispatch = dispatch
        self._idle = idle
        self._max_size = settings.max_batch_size
        self._wait_s = settings.max_batch_wait_ms / 1000
        self._items: list[Single] = []
        self._timer: asyncio.TimerHandle | None = None

    def add(self, item: Single) -> None:
        self._items.append(item)
        if len(self._items) >= self._max_size or self._idle():
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._wait_s, self._flush)

    def replica_idle(self) -> None:
        """A replica has nothing to do: send it what has collected rather than wait."""
        if self._items and self._idle():
            self._flush()

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        items, self._items = self._items, []
        items = [item for item in items if not item.done]
        if items:
            self._dispatch(Batch(items))

    def close(self, error: GatewayError) -> None:
        """Fail what is still collecting (the deployment stops)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        items, self._items = self._items, []
        for item in items:
            item.fail(error)
