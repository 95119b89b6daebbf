"""Private folders for the unix sockets of hubs, named by the process that owns them.

AF_UNIX paths hold about 107 bytes, so these folders live in the system temporary folder, whose
path is short, and not in the workspace, whose path may be long. A process killed with SIGKILL
cannot remove its folder; the name ``ferry-<pid>-<kind>-<random>`` lets the next server tell a
folder whose process is gone from a live one, and :func:`sweep` removes the former.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from ferry.pids import running, started_at

__all__ = ["make", "sweep"]

_NAME = re.compile(r"ferry-(\d+)-(?:batch|online)-[A-Za-z0-9_]+")
# /proc gives start times to within a second (boot time is whole seconds).
_CLOCK_SLACK = 2.0


def make(kind: str) -> Path:
    """A new folder (mode 0700) for a socket of this process; ``kind`` is batch or online."""
    return Path(tempfile.mkdtemp(prefix=f"ferry-{os.getpid()}-{kind}-"))


def sweep(root: Path | None = None) -> list[Path]:
    """Remove this user's socket folders whose process is gone; returns the ones removed.

    A pid that now runs a process started after the folder was last changed did not make it
    (the pid was reused), so that folder goes too. ``root`` defaults to the temporary folder.
    """
    root = root or Path(tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        match = _NAME.fullmatch(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            continue
        if _owned_by_live_process(int(match[1]), info.st_mtime):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(Path(entry.path))
    return removed


def _owned_by_live_process(pid: int, changed: float) -> bool:
    if pid == os.getpid():
        return True
    if not running(pid):
        return False
    start = started_at(pid)
    return start is None or start <= changed + _CLOCK_SLACK
