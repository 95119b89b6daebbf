"""``get-logs``: the tail of each replica's log, or of the preparation log.

Azure's ``container_type`` picks the container: ``InferenceServer`` (the default: the scoring
script's stdout and stderr) or ``StorageInitializer`` (downloading the model and code; here also
building the environment).
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

from ferry.errors import InvalidInputError

__all__ = ["read_logs"]

_PREPARE = {"storageinitializer", "storage-initializer", "storage_initializer"}
_SERVER = {"inferenceserver", "inference-server", "inference_server"}


def read_logs(folder: Path, lines: int, container_type: str | None) -> str:
    """The last ``lines`` lines of each log in ``folder`` (replica logs are headed by name)."""
    if lines < 1:
        raise InvalidInputError(f"lines is {lines}; ask for 1 or more.", details={"field": "lines"})
    kind = (container_type or "InferenceServer").lower()
    if kind in _PREPARE:
        return _tail(folder / "prepare.log", lines)
    if kind not in _SERVER:
        raise InvalidInputError(
            f"container_type {container_type!r} is not InferenceServer or StorageInitializer.",
            details={"field": "container_type"},
        )
    logs = (
        sorted(p for p in folder.glob("*.log") if p.name != "prepare.log")
        if folder.is_dir()
        else []
    )
    if not logs:
        return "(no replica has written a log yet; see container_type StorageInitializer)\n"
    if len(logs) == 1:
        return _tail(logs[0], lines)
    return "".join(f"===== {log.stem} =====\n{_tail(log, lines)}" for log in logs)


def _tail(path: Path, lines: int) -> str:
    if not path.is_file():
        return ""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        kept = deque(handle, maxlen=lines)
    return "".join(kept)
