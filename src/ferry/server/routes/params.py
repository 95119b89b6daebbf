"""Checks of the values routes take from the URL path: names and file paths.

Every route that takes a name in its path checks it against the same rule the spec of that
entity follows (:mod:`ferry.specs.names`) before any lookup, and every route that takes a file path
resolves it with :func:`safe_child`. Both raise :class:`~ferry.errors.InvalidInputError` or
:class:`~ferry.errors.UnsafePathError` (400), so a NUL byte, a 5,000-character name, ``..`` or an
empty path is a clear client error and never reaches the filesystem as an ``OSError`` (500).
"""

from __future__ import annotations

import errno
from collections.abc import Collection
from pathlib import Path
from typing import Any

from fastapi import Depends, Request

from ferry.errors import FerryError, InvalidInputError, NotFoundError, UnsafePathError
from ferry.specs.names import NameRule

__all__ = ["MAX_NAME_LENGTH", "check_name", "path_names", "safe_child"]

# One path component on Linux and macOS; the patterns of some rules do not bound the length.
MAX_NAME_LENGTH = 255


def check_name(value: str, rule: NameRule, *, field: str) -> str:
    """Return ``value`` if it follows ``rule`` and fits in one path component, else raise."""
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidInputError(
            f"{field} is {len(value)} characters long; a {rule.what} has at most "
            f"{MAX_NAME_LENGTH} ({rule.sentence}).",
            details={"field": field, "rule": rule.pattern},
        )
    return rule.check(value, field=field)


def path_names(**rules: NameRule) -> Any:
    """A route dependency that checks the named path parameters, e.g. ``path_names(name=RULE)``.

    Put it after ``Auth`` in a router's or route's ``dependencies`` so a caller without a token
    learns nothing about the naming rules.
    """

    def check(request: Request) -> None:
        for param, rule in rules.items():
            value = request.path_params.get(param)
            if isinstance(value, str):
                check_name(value, rule, field=param)

    return Depends(check)


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


def _os_error(exc: OSError, rel: str, field: str) -> FerryError:
    if exc.errno == errno.ENAMETOOLONG:
        return InvalidInputError(
            f"{field} ({len(rel)} characters) is too long for a file name; send a shorter path.",
            details={"field": field},
        )
    if exc.errno in (errno.ENOTDIR, errno.ELOOP):
        return NotFoundError(f"{field} {rel!r} does not exist.", details={"field": field})
    raise exc  # not the request's fault (permissions, I/O): a 500 with the traceback logged
