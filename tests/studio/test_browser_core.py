"""The studio core in Debian's chromium: sign-in, overview and assets pages, keyboard, narrow.

Each main page's screenshot is saved under tests/.artifacts/screenshots/ for review.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from ferry import MLClient
from ferry.entities import Environment, Model
from tests.cli.batch_setup import make_inputs, write_project
from tests.cli.conftest import make_ferry
from tests.png_bytes import png_bytes
from tests.studio.conftest import StudioServer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def assets(studio_server: StudioServer, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A model with a folder of files (one an image) and an environment to look at."""
    folder = tmp_path_factory.mktemp("digits-model")
    (folder / "model.txt").write_text("weights: 0.1 0.2 0.3\n", encoding="utf-8")
    (folder / "sub").mkdir()
    (folder / "sub" / "sample.png").write_bytes(png_bytes(16, 16))
    conda = tmp_path_factory.mktemp("env") / "conda.yaml"
    conda.write_text("dependencies:\n  - python=3.11\n  - pip:\n    - numpy\n", encoding="utf-8")
    with MLClient(settings=studio_server.settings) as client:
        client.models.create_or_update(
            Model(name="digits", version="1", path=str(folder), tags={"team": "vision"})
        )
        client.environments.create_or_update(
            Environment(name="digits-env", version="1", conda_file=str(conda))
        )


@pytest.fixture(scope="module")
def finished_job(studio_server: StudioServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real batch job (server-python workers echo 6 files) that has completed, and an
    online endpoint: something for the overview to show."""
    folder = tmp_path_factory.mktemp("overview-project")
    endpoint_yml, deployment_yml = write_project(folder, "digits-batch", "echo")
    ferry = make_ferry(studio_server.workspace)
    ferry("batch-endpoint", "create", "-f", endpoint_yml, "-o", "none")
    ferry("batch-deployment", "create", "--file", deployment_yml, "--set-default", "-o", "none")
    online = folder / "online.yml"
    online.write_text("name: digits-online\nauth_mode: key\n", encoding="utf-8")
    ferry("online-endpoint", "create", "-f", online, "-o", "none")
    inputs = make_inputs(folder / "inputs", 6)
    name = ferry(
        "batch-endpoint",
        "invoke",
        "--name",
        "digits-batch",
        "--input",
        inputs,
        "--query",
        "name",
        "-o",
        "tsv",
    ).stdout.strip()
    ferry("job", "stream", "-n", name, "-o", "none")
    return name


@pytest.fixture
def narrow_page(
    browser_sign_in: Callable[[int, int], AbstractContextManager[Page]],
) -> Iterator[Page]:
    """A phone-sized page signed in on the overview page."""
    with browser_sign_in(400, 800) as page:
        yield page


def test_the_one_time_url_signs_in_and_a_second_visit_is_refused(
    browser: Browser, studio_server: StudioServer, screenshot: Callable[..., Path]
) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(studio_server.url + "/studio/assets/models")  # not signed in: the login page
    expect(page).to_have_url(
        studio_server.url + "/studio/login?next=/studio/assets/models", timeout=10_000
    )
    expect(page.locator("pre code")).to_have_text("ferry studio")
    screenshot(page, "login")
    url = studio_server.login_url()
    page.goto(url)
    page.wait_for_url(studio_server.url + "/studio/")
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
    cookie = next(c for c in context.cookies() if c["name"] == "ferry_studio")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script can read the session
    context.close()

    other = browser.new_context()
    page = other.new_page()
    response = page.goto(url)
    assert response is not None and response.status == 403
    expect(page.get_by_role("alert")).to_contain_text("already used or has expired")
    other.close()


def test_overview_shows_endpoints_jobs_and_datastores(
    logged_in_page: Page, assets: None, screenshot: Callable[..., Path]
) -> None:
    page = logged_in_page
    for heading in ("Online endpoints", "Batch endpoints", "Recent jobs", "Workspace"):
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name="workspaceblobstore", exact=True)).to_be_visible()
    screenshot(page, "overview", full_page=True)


def test_overview_lists_a_real_job_with_its_state_and_progress(
    logged_in_page: Page, finished_job: str, screenshot: Callable[..., Path]
) -> None:
    page = logged_in_page
    page.reload()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=finished_job))
    expect(row.get_by_text("Completed", exact=True)).to_be_visible()
    expect(row.get_by_text("6 / 6")).to_be_visible()
    assert row.locator("progress").get_attribute("value") == "6"
    expect(page.get_by_role("link", name="digits-batch", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="digits-online", exact=True)).to_be_visible()
    screenshot(page, "overview-with-job", full_page=True)


def test_assets_pages_browse_files_and_show_an_image(
    logged_in_page: Page, assets: None, screenshot: Callable[..., Path]
) -> None:
    page = logged_in_page
    page.get_by_role("link", name="Assets", exact=True).click()
    expect(page.get_by_role("heading", name="Assets", exact=True)).to_be_visible()
    screenshot(page, "assets-models")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="digits", exact=True))
    row.get_by_role("link", name="1", exact=True).click()
    expect(page.get_by_role("heading", name="Model digits:1")).to_be_visible()
    expect(page.locator(".tag-value")).to_have_text("vision")
    screenshot(page, "asset-model-version", full_page=True)
    page.get_by_role("link", name="sub/", exact=True).click()
    page.get_by_role("link", name="sample.png", exact=True).click()
    image = page.get_by_role("img", name="sub/sample.png")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") == 16  # a real PNG loaded
    screenshot(page, "asset-file-image")


def test_setting_a_tag_through_the_form(logged_in_page: Page, assets: None) -> None:
    page = logged_in_page
    page.goto(page.url.replace("/studio/", "/studio/assets/models/digits/1"))
    page.get_by_label("Key").fill("stage")
    page.get_by_label("Value").fill("<b>prod</b>")
    page.get_by_role("button", name="Set tag").click()
    expect(page.locator("td.tag-value", has_text="<b>prod</b>")).to_be_visible()  # shown as text
    page.get_by_role("button", name="Remove tag stage").click()
    expect(page.locator("td.tag-key", has_text="stage")).to_have_count(0)


def test_an_environment_page_shows_the_resolution(
    logged_in_page: Page, assets: None, screenshot: Callable[..., Path]
) -> None:
    page = logged_in_page
    page.goto(page.url.replace("/studio/", "/studio/assets/environments/digits-env/1"))
    expect(page.get_by_role("heading", name="Resolution")).to_be_visible()
    expect(page.get_by_text("numpy", exact=True)).to_be_visible()
    screenshot(page, "asset-environment", full_page=True)


def test_the_keyboard_reaches_the_skip_link_first_and_it_moves_focus_to_the_content(
    logged_in_page: Page, assets: None
) -> None:
    page = logged_in_page
    page.goto(page.url.replace("/studio/", "/studio/assets/models"))
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Skip to content"
    expect(page.get_by_role("link", name="Skip to content")).to_be_visible()  # shown on focus
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # The next Tab is in the content, past the navigation it skipped.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Models"
    # From the top, the order is the reading order: skip link, brand, sections, sign out.
    page.reload()
    names = []
    for _ in range(8):
        page.keyboard.press("Tab")
        names.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert names == [
        "Skip to content",
        "Ferry studio",
        "Overview",
        "Assets",
        "Online endpoints",
        "Batch endpoints",
        "Jobs",
        "Sign out",
    ]


def test_a_narrow_screen_has_no_sideways_scroll(
    narrow_page: Page, assets: None, screenshot: Callable[..., Path]
) -> None:
    page = narrow_page
    for path in ("/studio/", "/studio/assets/models", "/studio/assets/models/digits/1"):
        page.goto(page.url.split("/studio/")[0] + path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 400 px"
        expect(page.get_by_role("link", name="Jobs", exact=True)).to_be_visible()
    screenshot(page, "narrow-asset-version", full_page=True)


def test_signing_out_ends_the_session(logged_in_page: Page) -> None:
    page = logged_in_page
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto(page.url.split("/studio/")[0] + "/studio/")
    expect(page.get_by_role("heading", name="Sign in to the studio")).to_be_visible()
