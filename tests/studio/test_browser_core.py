"""The studio core in Debian's chromium: sign-in, overview and assets pages, keyboard, narrow."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.studio.conftest import StudioServer

pytestmark = pytest.mark.browser


def test_the_one_time_url_signs_in_and_a_second_visit_is_refused(
    browser: Browser, studio_server: StudioServer, screenshot: Callable[..., Path]
) -> None:
    context = browser.new_context()
    page = context.new_page()
    url = studio_server.login_url()
    page.goto(url)
    page.wait_for_url(studio_server.url + "/studio/")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    cookie = next(c for c in context.cookies() if c["name"] == "ferry_studio")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    screenshot(page, "overview", full_page=True)
    context.close()

    other = browser.new_context()
    page = other.new_page()
    response = page.goto(url)
    assert response is not None and response.status == 403
    expect(page.get_by_role("alert")).to_contain_text("already used or has expired")
    screenshot(page, "login-refused")
    other.close()


def test_overview_renders(logged_in_page: Page) -> None:
    expect(logged_in_page.get_by_role("heading", name="Online endpoints")).to_be_visible()
