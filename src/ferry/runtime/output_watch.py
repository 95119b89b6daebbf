"""Which files a mini-batch writes under ``AZUREML_BI_OUTPUT_PATH`` (the shared output folder).

Every worker of a job writes into the same folder, so two mini-batches that write the same file
name silently replace each other's work (a script that names its output after the worker, or
after a fixed name, does this). The engine warns about it; this module tells it what each
mini-batch wrote.

An audit hook (PEP 578) sees every ``open()``/``os.open()`` of this process: one opened for
writing below the output folder while ``run()`` runs is recorded. Audit hooks cannot be removed,
so the hook checks a flag first and costs nothing outside ``run()``. What a child process or a
native library (Arrow's own file system, say) writes is not seen.

Standard library only: this runs on the deployment's interpreter.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing's: see messages.py
if TYPE_CHECKING:
    from typing import Any

__all__ = ["OutputWatch"]

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
#: Names reported per mini-batch at most (a journal event stays small).
MAX_NAMES = 1000


class OutputWatch:
    """Records the files opened for writing below ``root`` between :meth:`start` and
    :meth:`stop`, as paths relative to ``root``."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self._roots = tuple({self.root + os.sep, os.path.realpath(root) + os.sep})
        self._active = False
        self._seen: dict[str, None] = {}
        sys.addaudithook(self._hook)

    def start(self) -> None:
        self._seen = {}
        self._active = True

    def stop(self) -> list[str]:
        """Stop recording; returns the files written since :meth:`start`, in order."""
        self._active = False
        return list(self._seen)[:MAX_NAMES]

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event != "open" or not self._active:
            return
        try:
            path, mode, flags = args
            if isinstance(path, int):  # open(fd): the file was opened before, by os.open
                return
            writing = (
                any(c in mode for c in "wax+")
                if isinstance(mode, str)
                else bool((flags or 0) & _WRITE_FLAGS)
            )
            if not writing:
                return
            text = os.fsdecode(os.fspath(path))
            full = os.path.abspath(text)
            for root in self._roots:
                if full.startswith(root):
                    self._seen[full[len(root) :]] = None
                    return
        except Exception:  # never let the bookkeeping break the user's open()
            return
