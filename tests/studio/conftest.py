"""Studio fixtures: a real server, a signed-in httpx client, and Debian's chromium via playwright.

- ``studio_server``: one real background server (uvicorn subprocess on 127.0.0.1, a fresh
  workspace, real workers) for the whole session; ``StudioServer.login_url()`` mints a one-time
  login URL the way ``ferry studio`` does (``POST /api/v1/studio/login-codes`` with the token).
- ``studio_http``: an httpx client against that server, not signed in; ``signed_in_http``: one
  that has signed in (its cookie jar holds the session; ``.csrf`` is the session's CSRF token).
- ``browser`` (session) and ``logged_in_page``: chromium driven by playwright, signed in with
  the one-time URL. Never ``playwright install``: the executable is ``shutil.which("chromium")``.
- ``screenshot(page, name)``: saves ``tests/.artifacts/screenshots/<name>.png`` (gitignored).

Browser tests are marked ``browser`` (``make test-browser``); httpx tests are not.
"""

from __future__ import annotations

import functools
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from ferry.local_workspace.launcher import server_status
from ferry.local_workspace.layout import WorkspaceLayout
from ferry.settings import Settings
from tests.conftest import running_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

SCREENSHOTS = Path(__file__).resolve().parents[1] / ".artifacts" / "screenshots"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')


@dataclass
class StudioServer:
    """A running server: its URL, its workspace and the token that mints login codes."""

    settings: Settings
    url: str
    token: str

    @property
    def workspace(self) -> Path:
        return self.settings.resolved_workspace

    def api(self) -> httpx.Client:
        """An API client with the workspace token (to set things up for a page)."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60
        )

    def login_url(self, next_path: str | None = None) -> str:
        """A fresh one-time login URL, as ``ferry studio`` prints it."""
        with self.api() as api:
            response = api.post(
                "/api/v1/studio/login-codes", params={"next": next_path} if next_path else None
            )
        response.raise_for_status()
        return self.url + response.json()["path"]


@pytest.fixture(scope="session")
def studio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioServer]:
    """One real server for every studio test of the session."""
    for settings in running_server(tmp_path_factory.mktemp("studio-ws")):
        info = server_status(settings)
        assert info is not None, "the studio test server did not publish server.json"
        token = WorkspaceLayout(settings.resolved_workspace).read_token()
        assert token is not None
        yield StudioServer(settings=settings, url=str(info["url"]).rstrip("/"), token=token)


class SignedIn(httpx.Client):
    """An httpx client holding a studio session cookie, and the session's CSRF token."""

    csrf: str = ""


def sign_in(server: StudioServer, client: httpx.Client) -> str:
    """Sign ``client`` in with a one-time URL; return the session's CSRF token."""
    response = client.get(server.login_url(), follow_redirects=True)
    assert response.status_code == 200, response.text
    assert str(response.url).endswith("/studio/"), response.url
    match = CSRF_META.search(response.text)
    assert match and match.group(1), "the overview page has no csrf-token meta tag"
    return match.group(1)


@pytest.fixture
def studio_http(studio_server: StudioServer) -> Iterator[httpx.Client]:
    """An httpx client to the studio server, without a session."""
    with httpx.Client(base_url=studio_server.url, timeout=60) as client:
        yield client


@pytest.fixture
def signed_in_http(studio_server: StudioServer) -> Iterator[SignedIn]:
    """An httpx client signed in to the studio (``.csrf`` holds its CSRF token)."""
    with SignedIn(base_url=studio_server.url, timeout=60) as client:
        client.csrf = sign_in(studio_server, client)
        yield client


# -- the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Playwright]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    """Debian's chromium, headless (``make chromium`` installs it; never playwright install)."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed; run `make chromium` (apt-get install chromium)")
    browser = playwright_session.chromium.launch(
        executable_path=executable,
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )
    try:
        yield browser
    finally:
        browser.close()


@contextmanager
def _signed_in(
    browser: Browser, studio_server: StudioServer, width: int, height: int
) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        page.goto(studio_server.login_url())
        page.wait_for_url(studio_server.url + "/studio/")
        yield page
    finally:
        context.close()


@pytest.fixture
def browser_sign_in(
    browser: Browser, studio_server: StudioServer
) -> Callable[[int, int], AbstractContextManager[Page]]:
    """``with browser_sign_in(width, height) as page``: a fresh browser context of that
    viewport, signed in with a one-time login URL, on the overview page (closed after)."""
    return functools.partial(_signed_in, browser, studio_server)


@pytest.fixture
def logged_in_page(
    browser_sign_in: Callable[[int, int], AbstractContextManager[Page]],
) -> Iterator[Page]:
    """A desktop-sized page signed in on the overview page."""
    with browser_sign_in(1280, 900) as page:
        yield page


def _save(page: Page, name: str, **options: Any) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), **options)
    return path


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    """``screenshot(page, name, full_page=True)`` -> the saved PNG's path."""
    return _save
