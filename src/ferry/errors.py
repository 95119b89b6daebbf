"""Ferry's error hierarchy.

Every error a user can see is a :class:`FerryError`. It carries an :class:`ErrorCode`, a message
that says what was wrong *and how to fix it*, and optional structured ``details`` (for example the
offending field). The HTTP status of each code lives in one table, :data:`HTTP_STATUS`, so the
server, the SDK and the CLI agree on it::

    FerryError
    ├── InvalidInputError      (INVALID_INPUT, 400)      a value is malformed or out of range
    │   ├── SpecError          (INVALID_SPEC, 422)       a YAML/JSON spec failed validation
    │   └── UnsafePathError    (UNSAFE_PATH, 400)        a path escapes the folder it must stay in
    ├── AuthError              (UNAUTHORIZED, 401)       a missing or wrong token or key
    ├── ForbiddenError         (FORBIDDEN, 403)          known, but refused (a missing CSRF token)
    ├── NotFoundError          (NOT_FOUND, 404)          no such asset, version, file, ...
    ├── ConflictError          (CONFLICT, 409)           the thing exists already and differs
    ├── PayloadTooLargeError   (PAYLOAD_TOO_LARGE, 413)  a body over the limit
    ├── StoreError             (STORE, 500)              the metadata store failed or is too old
    └── ServerError            (SERVER, 503)             the server is missing or unreachable

Third-party exceptions are translated at module boundaries with ``raise FerryError(...) from exc``.
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = [
    "HTTP_STATUS",
    "AuthError",
    "ConflictError",
    "ErrorCode",
    "FerryError",
    "ForbiddenError",
    "InvalidInputError",
    "NotFoundError",
    "PayloadTooLargeError",
    "ServerError",
    "SpecError",
    "StoreError",
    "UnsafePathError",
    "error_from_payload",
]


class ErrorCode(str, enum.Enum):
    """Machine-readable error codes; they appear as ``code`` in REST error bodies."""

    INVALID_INPUT = "invalid_input"
    INVALID_SPEC = "invalid_spec"
    UNSAFE_PATH = "unsafe_path"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    STORE = "store_error"
    SERVER = "server_error"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_INPUT: 400,
    ErrorCode.INVALID_SPEC: 422,
    ErrorCode.UNSAFE_PATH: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.STORE: 500,
    ErrorCode.SERVER: 503,
}


class FerryError(Exception):
    """Base of every user-facing Ferry error."""

    code: ErrorCode = ErrorCode.SERVER

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]

    def to_payload(self) -> dict[str, Any]:
        """The JSON body of a REST error response: ``{code, message, details}``."""
        return {"code": self.code.value, "message": self.message, "details": self.details}


class InvalidInputError(FerryError):
    code = ErrorCode.INVALID_INPUT


class SpecError(InvalidInputError):
    code = ErrorCode.INVALID_SPEC


class UnsafePathError(InvalidInputError):
    code = ErrorCode.UNSAFE_PATH


class AuthError(FerryError):
    code = ErrorCode.UNAUTHORIZED


class ForbiddenError(FerryError):
    code = ErrorCode.FORBIDDEN


class NotFoundError(FerryError):
    code = ErrorCode.NOT_FOUND


class ConflictError(FerryError):
    code = ErrorCode.CONFLICT


class PayloadTooLargeError(FerryError):
    code = ErrorCode.PAYLOAD_TOO_LARGE


class StoreError(FerryError):
    code = ErrorCode.STORE


class ServerError(FerryError):
    code = ErrorCode.SERVER


_BY_CODE: dict[ErrorCode, type[FerryError]] = {
    ErrorCode.INVALID_INPUT: InvalidInputError,
    ErrorCode.INVALID_SPEC: SpecError,
    ErrorCode.UNSAFE_PATH: UnsafePathError,
    ErrorCode.UNAUTHORIZED: AuthError,
    ErrorCode.FORBIDDEN: ForbiddenError,
    ErrorCode.NOT_FOUND: NotFoundError,
    ErrorCode.CONFLICT: ConflictError,
    ErrorCode.PAYLOAD_TOO_LARGE: PayloadTooLargeError,
    ErrorCode.STORE: StoreError,
    ErrorCode.SERVER: ServerError,
}


def error_from_payload(payload: dict[str, Any], status: int) -> FerryError:
    """Rebuild the typed error from a REST error body (used by the SDK)."""
    try:
        cls = _BY_CODE[ErrorCode(payload.get("code"))]
    except ValueError:
        cls = next((c for code, c in _BY_CODE.items() if HTTP_STATUS[code] == status), FerryError)
    message = str(payload.get("message") or f"the server answered HTTP {status}")
    details = payload.get("details")
    return cls(message, details=details if isinstance(details, dict) else None)
