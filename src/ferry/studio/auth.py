"""Studio sign-in: one-time login codes, session cookies and CSRF tokens.

The studio uses the workspace token without ever putting it in a browser. A client that holds the
token (``ferry studio``, ``ferry server start``, ``--web``) asks the server for a login code
(``POST /api/v1/studio/login-codes``, behind the token gate) and prints
``<server>/studio/login?code=<code>``, as Jupyter does. Visiting it once trades the code for a
session: an HttpOnly, SameSite=Strict cookie. A code works once and for ten minutes.

Every studio request but the login page and its stylesheet needs that cookie: the token gate
checks it before any body byte (so an upload without a session is never read), and
:func:`require_session` hands the session to the page. Every state-changing request carries the
session's CSRF token (form field ``csrf_token``, or the ``X-CSRF-Token`` header that htmx sends
from the page's ``<meta name="csrf-token">``); :func:`check_csrf` refuses it otherwise (403).
Sessions live in the server's memory: a restarted server asks for a new login.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request

from ferry.errors import AuthError, ForbiddenError

__all__ = [
    "CODE_TTL_S",
    "COOKIE",
    "OPEN_PATHS",
    "SESSION_TTL_S",
    "Csrf",
    "LoginRequired",
    "Session",
    "StudioAuth",
    "StudioSession",
    "check_csrf",
    "login_path",
    "require_session",
    "safe_next",
]

COOKIE = "ferry_studio"
CODE_TTL_S = 600.0
SESSION_TTL_S = 12 * 3600.0
#: What a stray client may pile up before the oldest codes are dropped (each is 32 bytes).
_MAX_CODES = 1000
_MAX_SESSIONS = 1000
#: Studio paths served without a session: the login page, and the stylesheet it uses.
OPEN_PATHS = frozenset({"/studio/login", "/studio/static/studio.css"})


@dataclass(frozen=True)
class StudioSession:
    """One signed-in browser: the cookie's value and the CSRF token its forms carry."""

    id: str
    csrf_token: str
    expires_at: float


def _digest(secret: str) -> str:
    # Lookups go by digest: a dict probe then leaks nothing about the secret's prefix.
    return hashlib.sha256(secret.encode()).hexdigest()


class StudioAuth:
    """The server's login codes and sessions (in memory; thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._codes: dict[str, float] = {}
        self._sessions: dict[str, StudioSession] = {}

    def mint_code(self) -> str:
        """A new one-time login code, valid for :data:`CODE_TTL_S` seconds."""
        code = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._prune(now)
            if len(self._codes) >= _MAX_CODES:
                self._codes.pop(next(iter(self._codes)))
            self._codes[_digest(code)] = now + CODE_TTL_S
        return code

    def redeem(self, code: str) -> StudioSession | None:
        """Trade ``code`` for a new session; ``None`` if it is unknown, used or expired."""
        now = self._clock()
        with self._lock:
            expires = self._codes.pop(_digest(code), None)  # popped: a code works once
            if expires is None or expires < now:
                return None
            self._prune(now)
            if len(self._sessions) >= _MAX_SESSIONS:
                self._sessions.pop(next(iter(self._sessions)))
            session = StudioSession(
                id=secrets.token_urlsafe(32),
                csrf_token=secrets.token_urlsafe(32),
                expires_at=now + SESSION_TTL_S,
            )
            self._sessions[_digest(session.id)] = session
            return session

    def session(self, cookie: str | None) -> StudioSession | None:
        """The live session a cookie names, or ``None``."""
        if not cookie:
            return None
        with self._lock:
            found = self._sessions.get(_digest(cookie))
            if found is None:
                return None
            if found.expires_at < self._clock():
                del self._sessions[_digest(cookie)]
                return None
            return found

    def end(self, session: StudioSession) -> None:
        """Sign out: the cookie stops working at once."""
        with self._lock:
            self._sessions.pop(_digest(session.id), None)

    def _prune(self, now: float) -> None:
        self._codes = {k: v for k, v in self._codes.items() if v >= now}
        self._sessions = {k: v for k, v in self._sessions.items() if v.expires_at >= now}


class LoginRequired(Exception):  # noqa: N818 - a signal to redirect, not an error
    """Raised by :func:`require_session`; the studio answers it with a redirect to login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def safe_next(target: str | None) -> str:
    """Where to go after login: a studio path on this server, never another site."""
    if not target:
        return "/studio/"
    parts = urlsplit(target)
    # "//evil.example" and "/\evil" are other sites to a browser; only /studio/... is ours.
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/studio/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 0x20 for c in target)
    ):
        return "/studio/"
    return target


def login_path(next_path: str) -> str:
    """The login page's path that comes back to ``next_path`` once signed in."""
    target = safe_next(next_path)
    if target == "/studio/":
        return "/studio/login"
    return "/studio/login?next=" + quote(target, safe="/")


def _auth(request: Request) -> StudioAuth:
    auth: StudioAuth = request.app.state.studio_auth
    return auth


def require_session(request: Request) -> StudioSession:
    """The request's studio session; without one, :class:`LoginRequired` (a 303 to login)."""
    session = _auth(request).session(request.cookies.get(COOKIE))
    if session is None:
        query = f"?{request.url.query}" if request.url.query else ""
        raise LoginRequired(request.url.path + query)
    request.state.studio_session = session
    return session


Session = Annotated[StudioSession, Depends(require_session)]


async def check_csrf(request: Request, session: Session) -> StudioSession:
    """Refuse (403) a state-changing request without this session's CSRF token."""
    given = request.headers.get("x-csrf-token")
    if given is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            field = (await request.form()).get("csrf_token")  # cached: the route reads it too
            given = field if isinstance(field, str) else None
    if not given:
        raise ForbiddenError(
            "the request has no CSRF token (form field csrf_token or header X-CSRF-Token); "
            "reload the page and submit the form again.",
            details={"field": "csrf_token"},
        )
    if not hmac.compare_digest(given.encode(), session.csrf_token.encode()):
        raise ForbiddenError(
            "the CSRF token does not belong to this session (the page is older than the "
            "sign-in, or came from another site); reload the page and submit the form again.",
            details={"field": "csrf_token"},
        )
    return session


Csrf = Annotated[StudioSession, Depends(check_csrf)]


def not_signed_in() -> AuthError:
    return AuthError(
        "not signed in to the studio; run `ferry studio` for a login URL, then retry.",
    )
