"""Sign-in pages: the one-time login URL, logout, and the API route that mints login codes."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from ferry.server.routes.deps import Auth
from ferry.studio.auth import (
    CODE_TTL_S,
    COOKIE,
    SESSION_TTL_S,
    Csrf,
    StudioAuth,
    safe_next,
)
from ferry.studio.render import SECURITY_HEADERS, render

__all__ = ["LoginCode", "router"]

router = APIRouter(include_in_schema=False)


class LoginCode(BaseModel):
    """A one-time code for ``/studio/login?code=...``."""

    code: str = Field(description="Works once, within expires_in seconds.")
    expires_in: float = Field(description="Seconds the code stays valid.")
    path: str = Field(description="The login path with the code, to append to the server URL.")


def _auth(request: Request) -> StudioAuth:
    auth: StudioAuth = request.app.state.studio_auth
    return auth


@router.post("/api/v1/studio/login-codes", dependencies=[Auth])
def mint_login_code(request: Request, next: str | None = None) -> LoginCode:
    """Mint a login code (needs the workspace token): what ``ferry studio`` prints."""
    code = _auth(request).mint_code()
    path = f"/studio/login?code={code}"
    target = safe_next(next)
    if target != "/studio/":
        path += "&next=" + quote(target, safe="/")
    return LoginCode(code=code, expires_in=CODE_TTL_S, path=path)


@router.get("/studio/login")
def login(
    request: Request, code: str | None = None, next: str | None = None, signed_out: bool = False
) -> Response:
    """Trade a one-time code for a session cookie; without a code, explain how to get one."""
    if code is None:
        return render(request, "login.html", problem=None, signed_out=signed_out)
    session = _auth(request).redeem(code)
    if session is None:
        return render(
            request,
            "login.html",
            status_code=403,
            signed_out=False,
            problem="This login link was already used or has expired (a link works once, "
            f"for {CODE_TTL_S / 60:.0f} minutes). Run `ferry studio` for a new one.",
        )
    response = RedirectResponse(safe_next(next), status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(
        COOKIE,
        session.id,
        max_age=int(SESSION_TTL_S),
        path="/studio",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/studio/logout")
def logout(request: Request, session: Csrf) -> Response:
    """End the session; the cookie stops working at once."""
    _auth(request).end(session)
    response = RedirectResponse(
        "/studio/login?signed_out=1", status_code=303, headers=SECURITY_HEADERS
    )
    response.delete_cookie(COOKIE, path="/studio", httponly=True, samesite="strict")
    return response
