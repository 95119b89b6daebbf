"""Long-running operations, as azure-core's ``LROPoller``: ``begin_*`` calls return one."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

from ferry.errors import ServerError
from ferry.specs.states import OperationState

__all__ = ["Poller"]

T = TypeVar("T")


class Poller(Generic[T]):
    """A long-running operation: ``result(timeout)`` waits for it (azure-core's LROPoller)."""

    def __init__(self, poll: Callable[[], tuple[bool, T]], interval: float = 0.25) -> None:
        self._poll = poll
        self._interval = interval
        self._done = False
        self._value: T | None = None

    def done(self) -> bool:
        """Poll once; True when finished (raises if the operation failed)."""
        if not self._done:
            self._done, self._value = self._poll()
        return self._done

    def status(self) -> str:
        return str(OperationState.SUCCEEDED if self.done() else OperationState.IN_PROGRESS)

    def result(self, timeout: float | None = None) -> T:
        """Wait until done (or ``timeout`` seconds: then raise) and return the result."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done():
            if deadline is not None and time.monotonic() > deadline:
                raise ServerError(f"the operation did not finish within {timeout} s; poll again.")
            time.sleep(self._interval)
        return self._value  # type: ignore[return-value]

    def wait(self, timeout: float | None = None) -> None:
        self.result(timeout)

    @classmethod
    def completed(cls, value: T) -> Poller[T]:
        """An operation that finished when the call returned (the server did it synchronously)."""
        return cls(lambda: (True, value))
