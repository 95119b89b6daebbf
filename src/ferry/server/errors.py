"""HTTP translation of errors: every failure is JSON ``{code, message, details}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ferry.errors import ErrorCode, FerryError
from ferry.specs.base import describe_errors

__all__ = ["install_error_handlers"]

_log = logging.getLogger("ferry.server")


def install_error_handlers(app: FastAPI) -> None:
    """Map FerryError, request validation errors and stray HTTP errors to JSON bodies."""

    @app.exception_handler(FerryError)
    async def _ferry(_: Request, exc: FerryError) -> JSONResponse:
        return JSONResponse(exc.to_payload(), status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems, fields = describe_errors(exc.errors(), skip=("body", "query", "path"))
        body = {
            "code": ErrorCode.INVALID_SPEC.value,
            "message": "invalid request: " + "; ".join(problems),
            "details": {"fields": fields},
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not a user error: keep the traceback in the server log, say where it is.
        _log.exception("unhandled error in %s %s", request.method, request.url.path)
        body = {
            "code": ErrorCode.SERVER.value,
            "message": f"internal server error ({type(exc).__name__}: {exc}); the traceback is "
            "in the server log (ferry server logs).",
            "details": {},
        }
        return JSONResponse(body, status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            401: ErrorCode.UNAUTHORIZED,
            404: ErrorCode.NOT_FOUND,
            413: ErrorCode.PAYLOAD_TOO_LARGE,
        }
        body: dict[str, object] = {
            "code": code.get(exc.status_code, ErrorCode.INVALID_INPUT).value,
            "message": str(exc.detail),
            "details": {},
        }
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette's Allow names only the first route that matched the path; list them all.
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return JSONResponse(body, status_code=exc.status_code, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this request's path."""
    methods: set[str] = set()
    for route in request.app.routes:
        regex = getattr(route, "path_regex", None)
        served = getattr(route, "methods", None)
        if regex is not None and served and regex.match(request.url.path):
            methods.update(served)
    return sorted(methods)
