"""Mounting the studio on the server's FastAPI app: pages, static files, sign-in, HTML errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ferry.errors import FerryError
from ferry.server.workspace import Workspace
from ferry.studio.auth import LoginRequired, StudioAuth, login_path
from ferry.studio.gate import StudioGate
from ferry.studio.pages import assets, batch, jobs, jobs_logs, jobs_outputs, login, online, overview
from ferry.studio.render import render

__all__ = ["UPLOAD_PATHS", "mount_studio"]

#: The studio forms that take files (the Invoke form's input, the Test tab's request), bounded by
#: FERRY_MAX_UPLOAD_BYTES as the API's uploads are, not by the JSON limit.
UPLOAD_PATHS = frozenset(
    {"/studio/batch-endpoints/{name}/invoke", "/studio/online-endpoints/{name}/test"}
)

STATIC = Path(__file__).resolve().parent / "static"

# Each page module's router; a new page module adds its one line here.
ROUTERS = [
    login.router,
    overview.router,
    assets.router,
    online.router,
    batch.router,
    jobs.router,
    jobs_logs.router,
    jobs_outputs.router,
]


def mount_studio(app: FastAPI, workspace: Workspace) -> StudioAuth:
    """Add the studio to ``app``: its gate, routes, static files and HTML error pages.

    Call it before the API's routers are included (the asset routes' ``{collection}`` would
    shadow ``/api/v1/studio/login-codes``) and before the outermost middleware is added (the
    gate must run before the body-size limit reads a byte).
    """
    auth = StudioAuth()
    app.state.studio_auth = auth
    app.add_middleware(StudioGate, auth=auth)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/studio/static", StaticFiles(directory=STATIC), name="studio-static")
    _html_errors(app)
    return auth


_Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


def _studio_page(
    api_handler: _Handler, page: Callable[[Request, Exception], Response]
) -> Callable[[Request, Exception], Awaitable[Response]]:
    """An exception handler answering ``page`` under /studio/ and the API's own answer elsewhere."""

    async def handler(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith("/studio/"):
            answer = api_handler(request, exc)
            return answer if isinstance(answer, Response) else await answer
        return page(request, exc)

    return handler


def _html_errors(app: FastAPI) -> None:
    """Studio pages answer errors as pages; the API keeps its JSON bodies."""

    def ferry_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FerryError)
        return render(
            request,
            "error.html",
            status_code=exc.http_status,
            message=exc.message,
            code=exc.code.value,
        )

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        target = login_path(exc.next_path)
        if "hx-request" in request.headers:
            return Response(status_code=401, headers={"HX-Redirect": target})
        return Response(status_code=303, headers={"Location": target})

    def http_error(request: Request, exc: Exception) -> Response:
        # A studio path that matches no page (or method): a page, not the API's JSON.
        assert isinstance(exc, StarletteHTTPException)
        message = str(exc.detail)
        if exc.status_code == 404:
            message += ": there is no studio page at this address; start from the overview."
        page = render(
            request,
            "error.html",
            status_code=exc.status_code,
            message=message,
            code=str(exc.status_code),
        )
        page.headers.update(exc.headers or {})
        return page

    for error, page in ((FerryError, ferry_error), (StarletteHTTPException, http_error)):
        app.add_exception_handler(error, _studio_page(app.exception_handlers[error], page))
    app.add_exception_handler(LoginRequired, login_required)
