"""Errors the scoring gateway answers with; each body says what happened and what to do.

Every one is a :class:`GatewayError` carrying its HTTP status (the status table of Azure's managed
online endpoints) and a ``code``::

    401 unauthorized        missing or wrong key or token
    404 not_found           no such endpoint or deployment, or no deployment takes traffic
    408 request_timeout     request_timeout_ms passed
    413 payload_too_large   body over the deployment's max_request_body_mb
    424 model_error         the scoring script failed (status and reason also in headers)
    429 too_many_requests   more than 2 x max_concurrent_requests_per_instance x instances
    503 not_ready           no replica is ready (starting, restarting, or failed)
"""

from __future__ import annotations

import json
from typing import Any

from ferry.errors import FerryError

__all__ = ["GatewayError"]


class GatewayError(FerryError):
    """A scoring request that cannot be answered by the model; rendered as a JSON response."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: list[tuple[bytes, bytes]] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.status = status
        self.reason = code
        self.headers = headers or []

    @property
    def http_status(self) -> int:
        return self.status

    def to_payload(self) -> dict[str, Any]:
        return {"code": self.reason, "message": self.message, "details": self.details}

    def body(self) -> bytes:
        return json.dumps(self.to_payload()).encode()
