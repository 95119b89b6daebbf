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
    ├── ServerError            (SERVER, 503)             the server is missing or unreachable
    └── GatewayError           (its own code, below)     the scoring gateway's answer to a request

A :class:`GatewayError` is what ``/endpoints/<name>/score`` answers instead of the model's answer
(Azure's managed online endpoints' status table); its code is one of these, each with its status
in the same table::

    401 unauthorized            missing or wrong key or token
    404 endpoint_not_found      no such endpoint
        deployment_not_found    no such deployment (the azureml-model-deployment header)
        no_traffic              no deployment takes traffic
        not_found               a path other than /score and /swagger.json, or a swagger version
        swagger_not_found       the script declares no schemas for that swagger version
    408 request_timeout         request_timeout_ms passed
    413 payload_too_large       body over the deployment's max_request_body_mb
    424 model_error             the scoring script failed (status and reason also in headers)
    429 too_many_requests       more than 2 x max_concurrent_requests_per_instance x instances, or
                                max_queue_wait_ms passed
    500 swagger_invalid         the code folder's swagger file is not a JSON object
        swagger_failed          the script's schemas could not be read
        protocol                a replica answered a batch with fewer items than it was sent
    503 not_ready               no replica is ready (starting, restarting, or failed)
        replica_lost            the replica serving the request stopped

Third-party exceptions are translated at module boundaries with ``raise FerryError(...) from exc``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from typing import Any

__all__ = [
    "HTTP_STATUS",
    "AuthError",
    "ConflictError",
    "ErrorCode",
    "FerryError",
    "ForbiddenError",
    "GatewayError",
    "InvalidInputError",
    "NotFoundError",
    "PayloadTooLargeError",
    "ServerError",
    "SpecError",
    "StoreError",
    "UnsafePathError",
    "error_from_payload",
    "gateway_error",
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
    # The scoring gateway's (GatewayError), see the module docstring.
    ENDPOINT_NOT_FOUND = "endpoint_not_found"
    DEPLOYMENT_NOT_FOUND = "deployment_not_found"
    NO_TRAFFIC = "no_traffic"
    SWAGGER_NOT_FOUND = "swagger_not_found"
    REQUEST_TIMEOUT = "request_timeout"
    MODEL_ERROR = "model_error"
    TOO_MANY_REQUESTS = "too_many_requests"
    SWAGGER_INVALID = "swagger_invalid"
    SWAGGER_FAILED = "swagger_failed"
    PROTOCOL = "protocol"
    NOT_READY = "not_ready"
    REPLICA_LOST = "replica_lost"


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
    ErrorCode.ENDPOINT_NOT_FOUND: 404,
    ErrorCode.DEPLOYMENT_NOT_FOUND: 404,
    ErrorCode.NO_TRAFFIC: 404,
    ErrorCode.SWAGGER_NOT_FOUND: 404,
    ErrorCode.REQUEST_TIMEOUT: 408,
    ErrorCode.MODEL_ERROR: 424,
    ErrorCode.TOO_MANY_REQUESTS: 429,
    ErrorCode.SWAGGER_INVALID: 500,
    ErrorCode.SWAGGER_FAILED: 500,
    ErrorCode.PROTOCOL: 500,
    ErrorCode.NOT_READY: 503,
    ErrorCode.REPLICA_LOST: 503,
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


class GatewayError(FerryError):
    """The scoring gateway's answer to one request, when the model's answer cannot be given.

    Its ``code`` is the instance's own (one gateway error class, many codes, as Azure's table);
    the status follows the code through :data:`HTTP_STATUS`. ``headers`` go into the response as
    they are (``WWW-Authenticate``, ``Connection: close``, a model error's status and reason).
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        headers: Sequence[tuple[bytes, bytes]] = (),
        details: dict[str, Any] | None = None,
        status: int | None = None,
    ) -> None:
        """``status`` is for an answer that is not the gateway's own (see :func:`gateway_error`);
        the gateway's errors take their code's."""
        super().__init__(message, details=details)
        self.code = code
        self.headers = list(headers)
        self._status = HTTP_STATUS[code] if status is None else status

    @property
    def http_status(self) -> int:
        return self._status

    def body(self) -> bytes:
        """The JSON body of the response: ``{code, message, details}``."""
        return json.dumps(self.to_payload()).encode()


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
    message = str(payload.get("message") or f"the server answered HTTP {status}")
    details = payload.get("details")
    kept = details if isinstance(details, dict) else None
    try:
        code = ErrorCode(payload.get("code"))
    except ValueError:
        cls = next((c for code, c in _BY_CODE.items() if HTTP_STATUS[code] == status), FerryError)
        return cls(message, details=kept)
    if code in _BY_CODE:
        return _BY_CODE[code](message, details=kept)
    return GatewayError(code, message, details=kept)  # e.g. swagger_invalid at deployment


def gateway_error(status: int, code: str, message: str, details: Any = None) -> GatewayError:
    """Rebuild the gateway's error from a scoring answer (used by the SDK).

    An answer that is not the gateway's own (a proxy in front of it: an unknown code, or a
    status other than the code's) keeps its status and gets the first code that has it.
    """
    kept = details if isinstance(details, dict) else None
    try:
        known: ErrorCode | None = ErrorCode(code)
    except ValueError:
        known = None
    if known is None or HTTP_STATUS[known] != status:
        known = next((c for c, s in HTTP_STATUS.items() if s == status), ErrorCode.SERVER)
    return GatewayError(known, message, details=kept, status=status)
