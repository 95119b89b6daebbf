"""Errors of the environments module (they extend the tree drawn in :mod:`ferry.errors`)::

FerryError
├── InvalidInputError
│   └── EnvironmentBuildError  (INVALID_INPUT, 400)  a requirement cannot be installed, or the
│                                                    requested Python is missing (strict policy)
└── UvNotFoundError            (SERVER, 503)         the uv executable is not installed
"""

from __future__ import annotations

from ferry.errors import ErrorCode, FerryError, InvalidInputError

__all__ = ["EnvironmentBuildError", "UvNotFoundError"]


class EnvironmentBuildError(InvalidInputError):
    """An environment could not be built from its spec.

    The message carries uv's own error lines and names the package. ``details`` holds
    ``package``, ``version``, ``python``, ``log_path`` (the kept build log), ``changes`` (what a
    relaxing policy had already changed) and ``uv_output`` (the trimmed uv message), where known.
    """

    code = ErrorCode.INVALID_INPUT


class UvNotFoundError(FerryError):
    """The ``uv`` executable that builds environments is not installed on this machine."""

    code = ErrorCode.SERVER
