"""A worker's log: its own lines, and ``logging`` set up for the script the moment it is imported.

The ``logging`` package (with the ``re``, ``traceback``, ``string`` and ``threading`` modules it
pulls in) costs a worker about 16 ms at every start, and a batch job starts fresh workers each
time. So the worker does not import it. :func:`configure` records the level and, once anything
imports ``logging`` (the script, pandas, torch), configures it right after the import: records at
the job's level go to stderr (the worker's log file), in :data:`FORMAT`. A script sees the same
root logger as before, and its own ``basicConfig`` stays a no-op. Until then :func:`log` writes
the worker's own lines in that same format; afterwards it goes through ``logging``.
"""

from __future__ import annotations

import sys
import time

TYPE_CHECKING = False  # not typing's: see messages.py
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any

__all__ = [
    "DEBUG",
    "ERROR",
    "FORMAT",
    "INFO",
    "LEVELS",
    "WARNING",
    "configure",
    "log",
    "parse_level",
]

#: The worker's log format (``logging.basicConfig``'s ``format``).
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOGGER = "ferry.runtime"
DEBUG, INFO, WARNING, ERROR, CRITICAL = 10, 20, 30, 40, 50
#: logging's level names (``WARN`` and ``FATAL`` are its aliases).
LEVELS = {
    "NOTSET": 0,
    "DEBUG": DEBUG,
    "INFO": INFO,
    "WARN": WARNING,
    "WARNING": WARNING,
    "ERROR": ERROR,
    "FATAL": CRITICAL,
    "CRITICAL": CRITICAL,
}
_NAMES = {DEBUG: "DEBUG", INFO: "INFO", WARNING: "WARNING", ERROR: "ERROR", CRITICAL: "CRITICAL"}

_level = WARNING  # logging's own default, until configure()


def parse_level(name: str) -> int:
    """A level name (any case) or number, as ``logging`` accepts it.

    Raises:
        ValueError: not a level; the message lists the valid names.
    """
    text = name.strip().upper()
    if text.isdigit():
        return int(text)
    if text not in LEVELS:
        raise ValueError(f"unknown logging level {name!r}; use one of {', '.join(sorted(LEVELS))}")
    return LEVELS[text]


def _configure_logging(logging: Any) -> None:
    logging.basicConfig(level=_level, stream=sys.stderr, format=FORMAT, force=True)


def configure(level: int) -> None:
    """Log at ``level`` from now on; ``logging`` gets the same setup when it is first imported."""
    global _level
    _level = level
    if "logging" in sys.modules:  # already imported (a sitecustomize, say): set it up now
        _configure_logging(sys.modules["logging"])
    elif not any(isinstance(f, _SetUpLoggingOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _SetUpLoggingOnImport())


def log(level: int, message: str, *, exc_info: bool = False) -> None:
    """Write one line of the worker's own log (``exc_info``: append the current traceback)."""
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger(LOGGER).log(level, message, exc_info=exc_info)
        return
    if level < _level:
        return
    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f",{int(now % 1 * 1000):03d}"
    line = f"{stamp} {_NAMES.get(level, f'Level {level}')} {LOGGER}: {message}"
    if exc_info:
        import traceback  # only for an error: it costs a worker start ~4 ms

        line += "\n" + traceback.format_exc().rstrip("\n")
    sys.stderr.write(line + "\n")


# The finder and the loader follow importlib's protocols by duck typing, as the shims do
# (importlib.abc would cost every worker start ~6 ms).
class _ThenConfigure:
    """Runs ``logging``'s real loader, then configures the fresh module."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        # Nothing after this import sees the wrapper: the module keeps its real loader.
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        _configure_logging(module)


class _SetUpLoggingOnImport:
    """A one-shot ``sys.meta_path`` finder: wraps the loader of the first ``import logging``."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "logging":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)  # one shot: the lookup below finds the real package
        from importlib.util import find_spec

        spec = find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _ThenConfigure(spec.loader)  # type: ignore[assignment]
        return spec
