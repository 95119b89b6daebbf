"""The error responses each route declares in OpenAPI, all with the one error body.

Every failure is JSON ``{code, message, details}`` (:mod:`ferry.server.errors`); the status
follows the code (``ferry.errors.HTTP_STATUS``). Routers declare the statuses any of their routes
can answer (``COMMON``) and each route adds its own: 404 where it names a resource, 409 where it
can conflict, 413 where it takes a body.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ferry.errors import ErrorCode

__all__ = ["COMMON", "COMMON_STATUSES", "ErrorPayload", "errors", "updated"]


class ErrorPayload(BaseModel):
    """The body of every error response."""

    code: ErrorCode = Field(description="Machine-readable error code.")
    message: str = Field(description="What went wrong and how to fix it.")
    details: dict[str, Any] = Field(
        description="Structured context, e.g. the offending field, value or limit."
    )


_WHY = {
    400: "Invalid input, e.g. a name in the path that breaks the naming rule (quoted).",
    401: "Missing or wrong 'Authorization: Bearer <token>'.",
    403: "Authenticated, but not allowed, e.g. staging another user's files.",
    404: "The named resource does not exist.",
    409: "It conflicts with what exists, e.g. a version that exists with other content.",
    413: "The request body is over the server's limit (the setting to raise is named).",
    422: "The request (body, query or spec) fails validation; the fields are named.",
    500: "A store failure or a bug; the traceback is in the server log.",
}


def errors(*statuses: int, by_ref: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, each with the :class:`ErrorPayload` body.

    ``by_ref`` is for routes whose success is not JSON (plain text): FastAPI would document a
    ``model`` under the route's own media type, but errors are always JSON.
    """
    if by_ref:
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorPayload"}}}
        return {status: {"description": _WHY[status], "content": content} for status in statuses}
    return {status: {"model": ErrorPayload, "description": _WHY[status]} for status in statuses}


#: What any control-plane route can answer: bad input, no token, failed validation, a bug.
COMMON_STATUSES = (400, 401, 422, 500)
COMMON = errors(*COMMON_STATUSES)


def updated(model: type[Any]) -> dict[int | str, dict[str, Any]]:
    """The 200 of a create-or-update route whose own status is 201: the name existed."""
    return {200: {"model": model, "description": "Updated: the name existed."}}
