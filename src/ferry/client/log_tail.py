"""Follow a running job's log files over HTTP, as ``tail -f`` would, one poll at a time.

Each poll lists the job's files, reads only what grew since the last poll (by byte offset) and
returns the new complete lines, each prefixed with the file's short name (``[stdout/process000]``).
A line still being written is held back until its newline arrives or :meth:`LogTail.flush` is
called at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ferry.errors import FerryError

if TYPE_CHECKING:
    from ferry.client.batch import JobOperations

__all__ = ["LogTail", "short_name"]

#: What is followed: the scoring script's output, the live overview and the preparation log.
_PREFIXES = ("logs/user/stdout/", "logs/user/stderr/")
_FILES = ("logs/prepare.txt", "logs/job_progress_overview.txt")


def short_name(path: str) -> str:
    """``logs/user/stdout/process000.txt`` → ``stdout/process000``."""
    return path.removeprefix("logs/").removeprefix("user/").removesuffix(".txt")


def _followed(path: str) -> bool:
    return path in _FILES or path.startswith(_PREFIXES)


@dataclass
class LogTail:
    """The read positions in one job's log files."""

    jobs: JobOperations
    job_name: str
    offsets: dict[str, int] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)

    def poll(self) -> list[str]:
        """New complete lines of every followed file since the last poll."""
        lines: list[str] = []
        for item in self.jobs.files(self.job_name):
            path = str(item.get("path", ""))
            size = int(item.get("size", 0))
            if size < self.offsets.get(path, 0):  # rewritten from the start: follow it again
                self.offsets[path] = 0
                self.pending.pop(path, None)
            if _followed(path) and size > self.offsets.get(path, 0):
                lines.extend(self._read(path, size))
        return lines

    def flush(self) -> list[str]:
        """The unterminated last lines, once nothing more will be written."""
        lines = [f"[{short_name(path)}] {text}" for path, text in self.pending.items() if text]
        self.pending.clear()
        return lines

    def _read(self, path: str, size: int) -> list[str]:
        offset = self.offsets.get(path, 0)
        text = self.pending.pop(path, "")
        while offset < size:
            try:
                chunk, offset_after = self.jobs.tail_file(self.job_name, path, offset)
            except FerryError:
                break  # rotated or removed (a resume resets logs); the next poll catches up
            if offset_after <= offset:
                break
            text += chunk
            offset = offset_after
        self.offsets[path] = offset
        *complete, rest = text.split("\n")
        if rest:
            self.pending[path] = rest
        prefix = f"[{short_name(path)}] "
        return [prefix + line.rstrip("\r") for line in complete]
