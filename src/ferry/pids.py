"""Whether a process is alive, exactly, and when it started (Linux ``/proc``, else signals).

``kill(pid, 0)`` succeeds on a zombie: a process that has exited but that its parent has not
reaped yet. Here a zombie counts as dead. Only the standard library: clients import this.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["running", "started_at"]

_HAVE_PROC = Path("/proc/self/stat").exists()


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` from the state on (field 3), or None if no process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name before the state is in parentheses and may hold ") " itself.
    return stat.rsplit(")", 1)[-1].split()


def running(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie has)."""
    if pid <= 0:
        return False
    if _HAVE_PROC:
        fields = _stat_fields(pid)
        return fields is not None and fields[:1] != ["Z"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def started_at(pid: int) -> float | None:
    """When ``pid`` started, in seconds since the epoch (to within a second), or None if
    unknown (no such process, or no ``/proc``)."""
    fields = _stat_fields(pid) if _HAVE_PROC and pid > 0 else None
    if fields is None or len(fields) < 20:
        return None
    try:
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text(encoding="ascii").splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
