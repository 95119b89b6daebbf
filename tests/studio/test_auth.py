"""StudioAuth's rules with a controlled clock: codes expire and work once, sessions expire and
end, and where a login may send the browser."""

from __future__ import annotations

import pytest

from ferry.studio.auth import CODE_TTL_S, SESSION_TTL_S, StudioAuth, login_path, safe_next
from ferry.studio.pages.overview import _store_url


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_code_works_once() -> None:
    auth = StudioAuth(Clock())
    code = auth.mint_code()
    session = auth.redeem(code)
    assert session is not None
    assert auth.redeem(code) is None
    assert auth.session(session.id) == session


def test_a_code_expires() -> None:
    clock = Clock()
    auth = StudioAuth(clock)
    code = auth.mint_code()
    clock.now += CODE_TTL_S + 1
    assert auth.redeem(code) is None


def test_a_session_expires_and_ends() -> None:
    clock = Clock()
    auth = StudioAuth(clock)
    first = auth.redeem(auth.mint_code())
    second = auth.redeem(auth.mint_code())
    assert first is not None and second is not None
    assert first.csrf_token != second.csrf_token  # CSRF tokens are per session
    auth.end(first)
    assert auth.session(first.id) is None
    assert auth.session(second.id) == second
    clock.now += SESSION_TTL_S + 1
    assert auth.session(second.id) is None


def test_unknown_and_empty_cookies_are_no_session() -> None:
    auth = StudioAuth(Clock())
    assert auth.session(None) is None
    assert auth.session("") is None
    assert auth.session("guess") is None


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (None, "/studio/"),
        ("/studio/jobs/j1", "/studio/jobs/j1"),
        ("/studio/assets/models?page_token=2", "/studio/assets/models?page_token=2"),
        ("//evil.example/studio/", "/studio/"),
        ("https://evil.example/studio/", "/studio/"),
        ("/studio/\\evil", "/studio/"),
        ("/api/v1/jobs", "/studio/"),
        ("/studio/x\r\nSet-Cookie: a=b", "/studio/"),
    ],
)
def test_login_only_goes_to_studio_pages(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_login_path_keeps_the_page_as_next() -> None:
    assert login_path("/studio/") == "/studio/login"
    assert login_path("/studio/jobs/a b") == "/studio/login?next=/studio/jobs/a%20b"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:////ws/ferry.db", "sqlite:////ws/ferry.db"),
        ("postgresql://ferry:s3cret@db:5432/ferry", "postgresql://ferry:***@db:5432/ferry"),
        ("postgresql://ferry@db/ferry", "postgresql://ferry@db/ferry"),
    ],
)
def test_the_overview_never_shows_the_store_password(url: str, shown: str) -> None:
    assert _store_url(url) == shown
