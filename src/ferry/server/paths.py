"""Paths that come from requests, resolved without ever turning a bad one into a 500.

:func:`safe_child` resolves a relative path below a folder (a job's logs and outputs) and
:func:`path_exists` checks a path a request named (a ``file://`` input). Both refuse a NUL byte
and translate the ``OSError`` of a name too long for the filesystem into
:class:`~ferry.errors.InvalidInputError` (400); ``..``, an empty path or one outside the folder is
:class:`~ferry.errors.UnsafePathError` (400).
"""

from __future__ import annotations

import errno
from collections.abc import Collection
from pathlib import Path

from ferry.errors import FerryError, InvalidInputError, NotFoundError, UnsafePathError

__all__ = ["path_exists", "safe_child"]


def safe_child(root: Path, rel: str, *, field: str, tops: Collection[str] = ()) -> Path:
    """Resolve ``rel`` below ``root`` and return it, refusing anything that leaves ``root``.

    Args:
        root: the folder the path must stay in.
        rel: the relative path from the request.
        field: the request field that carried ``rel``, named in errors.
        tops: when given, the first component of ``rel`` must be one of these.

    Raises:
        UnsafePathError: ``rel`` is empty, absolute, has a NUL byte, escapes ``root`` or does not
            start with one of ``tops``.
        InvalidInputError: ``rel`` or one of its components is too long for the filesystem.
    """
    where = "a relative path"
    if tops:
        where += " starting with " + " or ".join(f"{top}/" for top in sorted(tops))
    if not rel.strip("/"):
        raise UnsafePathError(f"{field} is empty; send {where}.", details={"field": field})
    if "\x00" in rel:
        raise UnsafePathError(
            f"{field} {rel!r} contains a NUL byte, which no file name can hold; send {where}.",
            details={"field": field},
        )
    base = root.resolve()
    try:
        target = (base / rel).resolve()
    except OSError as exc:
        raise _os_error(exc, rel, field) from exc
    except RuntimeError as exc:  # Python < 3.13 reports a symlink loop this way
        raise UnsafePathError(
            f"{field} {rel!r} goes through a symlink loop; send {where}.", details={"field": field}
        ) from exc
    if target == base:
        raise UnsafePathError(
            f"{field} {rel!r} names the folder itself, not a file in it; send {where}.",
            details={"field": field},
        )
    if not target.is_relative_to(base):
        raise UnsafePathError(
            f"{field} {rel!r} is outside the folder it must stay in; send {where}.",
            details={"field": field},
        )
    if tops and target.relative_to(base).parts[0] not in tops:
        raise UnsafePathError(
            f"{field} {rel!r} is outside the folders it may read; send {where}.",
            details={"field": field},
        )
    try:
        target.stat()
    except FileNotFoundError:
        pass  # the caller decides what a missing file means
    except OSError as exc:
        raise _os_error(exc, rel, field) from exc
    return target


def path_exists(path: Path, *, field: str) -> bool:
    """``path.exists()`` for a path a request named: a NUL byte or a name too long is a 400.

    ``Path.exists`` raises ``OSError`` for a component over the filesystem's limit, which would
    otherwise surface as an internal error.
    """
    text = str(path)
    if "\x00" in text:
        raise UnsafePathError(
            f"{field} {_short(text)!r} contains a NUL byte, which no file name can hold.",
            details={"field": field},
        )
    try:
        return path.exists()
    except OSError as exc:
        raise _os_error(exc, text, field) from exc


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _os_error(exc: OSError, rel: str, field: str) -> FerryError:
    if exc.errno == errno.ENAMETOOLONG:
        return InvalidInputError(
            f"{field} ({len(rel)} characters) is too long for a file name; send a shorter path.",
            details={"field": field},
        )
    if exc.errno in (errno.ENOTDIR, errno.ELOOP):
        return NotFoundError(f"{field} {_short(rel)!r} does not exist.", details={"field": field})
    raise exc  # not the request's fault (permissions, I/O): a 500 with the traceback logged
