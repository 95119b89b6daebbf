"""``ferry studio``, ``ferry server start`` and ``--web`` print one-time studio login URLs.

The real ``ferry`` command in subprocesses; each printed URL is then opened with httpx, as a
browser would, and must sign in once and land on the page it names.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import httpx
import pytest

from ferry.cli.studio import has_desktop
from tests.cli.conftest import Ferry, make_ferry
from tests.studio.conftest import StudioServer

LOGIN_URL = re.compile(r"http://127\.0\.0\.1:\d+/studio/login\?code=[\w-]+(?:&next=\S+)?")


def _ferry(workspace: Path) -> Ferry:
    ferry = make_ferry(workspace)
    # No display: the command must print the URL and never try to open a browser here.
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        ferry.env.pop(name, None)
    return ferry


def _open(url: str) -> httpx.Response:
    with httpx.Client(timeout=60) as browser:
        return browser.get(url)


def test_ferry_studio_prints_a_login_url_that_works_once(studio_server: StudioServer) -> None:
    result = _ferry(studio_server.workspace)("studio")
    url = result.stdout.strip()
    assert LOGIN_URL.fullmatch(url), url
    assert url.startswith(studio_server.url)
    first = _open(url)
    assert first.status_code == 303
    assert first.headers["location"] == "/studio/"
    assert "ferry_studio=" in first.headers["set-cookie"]
    assert _open(url).status_code == 403


def test_ferry_studio_page_option_lands_on_that_page(studio_server: StudioServer) -> None:
    url = _ferry(studio_server.workspace)("studio", "--page", "/studio/assets/data").stdout.strip()
    assert _open(url).headers["location"] == "/studio/assets/data"


def test_online_endpoint_show_web_prints_the_endpoint_page(
    studio_server: StudioServer, tmp_path: Path
) -> None:
    ferry = _ferry(studio_server.workspace)
    spec = tmp_path / "endpoint.yml"
    spec.write_text("name: web-ep\nauth_mode: key\n", encoding="utf-8")
    ferry("online-endpoint", "create", "-f", spec, "-o", "none")
    result = ferry(
        "online-endpoint", "show", "-n", "web-ep", "--web", "--query", "name", "-o", "tsv"
    )
    assert result.stdout.strip() == "web-ep"  # stdout stays the endpoint
    assert "online endpoint web-ep in the studio" in result.stderr
    found = LOGIN_URL.search(result.stderr)
    assert found, result.stderr
    assert _open(found.group(0)).headers["location"] == "/studio/online-endpoints/web-ep"


def test_online_endpoint_show_web_of_a_missing_endpoint_fails_before_any_url(
    studio_server: StudioServer,
) -> None:
    result = _ferry(studio_server.workspace)(
        "online-endpoint", "show", "-n", "no-such-ep", "--web", expect=1
    )
    assert "no-such-ep" in result.stderr
    assert "/studio/login" not in result.stderr


@pytest.mark.slow
def test_server_start_prints_a_studio_login_url(tmp_path: Path) -> None:
    ferry = _ferry(tmp_path / "ws")
    try:
        started = ferry("server", "start", "-o", "json")
        assert '"url"' in started.stdout  # stdout stays the server's info
        found = LOGIN_URL.search(started.stderr)
        assert found, started.stderr
        assert "Studio (the link signs you in once, within 10 minutes)" in started.stderr
        assert _open(found.group(0)).headers["location"] == "/studio/"
    finally:
        ferry("server", "stop", "-o", "none")


@pytest.mark.skipif(sys.platform != "linux", reason="the DISPLAY rule is Linux's")
def test_a_browser_is_opened_only_with_a_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert has_desktop() is False  # a server over SSH: print the URL, open nothing
    monkeypatch.setenv("DISPLAY", ":0")
    assert has_desktop() is True
    monkeypatch.delenv("DISPLAY")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert has_desktop() is True
