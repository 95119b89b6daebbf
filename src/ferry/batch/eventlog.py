"""Human-readable logs of a running job, where Azure ML users look for them.

* ``logs/sys/master_role.txt``: the engine's own story: sessions, workers started, ready and
  lost, retries, timeouts, the verdict;
* ``logs/user/error.txt``: every error the user's script raised, with the mini-batch, the files
  and the traceback (Azure's ``logs/user/error.txt``).

Each job writes its own files, so jobs running in threads of one server never mix their lines.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

__all__ = ["EventLog"]

_MAX_FILES_SHOWN = 5


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class EventLog:
    """Appends timestamped lines to a job's engine log and user error log."""

    def __init__(self, master: Path, user_error: Path) -> None:
        master.parent.mkdir(parents=True, exist_ok=True)
        self._master: IO[str] = master.open(
            "a", encoding="utf-8", errors="backslashreplace", buffering=1
        )
        self._user_error_path = user_error
        self._user_error: IO[str] | None = None

    def info(self, message: str) -> None:
        self._master.write(f"{_now()} INFO {message}\n")

    def warning(self, message: str) -> None:
        self._master.write(f"{_now()} WARNING {message}\n")

    def error(self, message: str) -> None:
        self._master.write(f"{_now()} ERROR {message}\n")

    def script_error(
        self, *, worker: str, mb: int, attempt: int, files: Sequence[str], error: dict[str, Any]
    ) -> None:
        """Record an error raised by the user's script (and a line in the engine log)."""
        if self._user_error is None:
            self._user_error_path.parent.mkdir(parents=True, exist_ok=True)
            self._user_error = self._user_error_path.open(
                "a", encoding="utf-8", errors="backslashreplace", buffering=1
            )
        shown = ", ".join(files[:_MAX_FILES_SHOWN])
        more = f" (+{len(files) - _MAX_FILES_SHOWN} more)" if len(files) > _MAX_FILES_SHOWN else ""
        trace = str(error.get("traceback") or "").rstrip()
        self._user_error.write(
            f"{_now()} mini-batch {mb} attempt {attempt} on {worker}: "
            f"{error.get('type')}: {error.get('message')}\n"
            f"  files: {shown}{more}\n" + (f"{trace}\n" if trace else "") + "\n"
        )
        self.warning(
            f"mini-batch {mb} attempt {attempt} on {worker}: script error "
            f"{error.get('type')}: {error.get('message')}"
        )

    def close(self) -> None:
        self._master.close()
        if self._user_error is not None:
            self._user_error.close()
