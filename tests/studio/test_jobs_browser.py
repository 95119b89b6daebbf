"""Batch endpoint and job pages in Debian's chromium, against a real server with real workers.

The digits example runs from the Invoke form and its progress reaches Completed on the page; the
gallery loads real PNGs; a log followed while lines are appended loses and repeats none across
a dropped connection; a job with failed items is resumed from its page. Screenshots of each page
go to tests/.artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Page, expect

from ferry import Data, MLClient
from ferry.specs.batch import BatchDeploymentSpec, BatchEndpointSpec
from ferry.specs.loader import load_spec
from tests.examples.support import copy_example, load_script
from tests.studio.conftest import StudioServer
from tests.studio.jobs_support import ENDPOINT, PngEndpoint, png_endpoint

pytestmark = pytest.mark.browser

DIGITS = "studio-digits"
N_IMAGES = 60
Shot = Callable[..., Path]
LOADED = "img => img.complete && img.naturalWidth > 0"


@pytest.fixture(scope="module")
def digits(studio_server: StudioServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The digits example deployed as endpoint ``studio-digits``, its images a data asset."""
    example = copy_example("digits-batch", tmp_path_factory.mktemp("digits"))
    load_script(example / "train.py").train(example, N_IMAGES)
    endpoint = load_spec(BatchEndpointSpec, example / "endpoint.yml")
    endpoint.name = DIGITS
    deployment = load_spec(BatchDeploymentSpec, example / "deployment.yml")
    deployment.endpoint_name = DIGITS
    deployment.environment = "ferry:server-python"  # no environment build in tests
    with MLClient(settings=studio_server.settings) as client:
        client.batch_endpoints.begin_create_or_update(endpoint)
        client.batch_deployments.begin_create_or_update(deployment, set_default=True)
        data = client.data.create_or_update(
            Data(name="digits-images", path=str(example / "data"), type="uri_folder")
        )
    return f"azureml:{data.name}:{data.version}"


@pytest.fixture(scope="module")
def png(studio_server: StudioServer, tmp_path_factory: pytest.TempPathFactory) -> PngEndpoint:
    return png_endpoint(studio_server, tmp_path_factory.mktemp("studio-png"))


@pytest.fixture
def held(png: PngEndpoint) -> Iterator[Path]:
    """While this file exists, the png script holds every mini-batch (the job stays Running)."""
    hold = png.control / "hold"
    hold.touch()
    try:
        yield hold
    finally:
        hold.unlink(missing_ok=True)


def test_invoke_the_digits_job_from_the_form_and_watch_it_complete(
    logged_in_page: Page, studio_server: StudioServer, digits: str, screenshot: Shot
) -> None:
    page = logged_in_page
    page.get_by_role("link", name="Batch endpoints", exact=True).click()
    expect(page.get_by_role("link", name=DIGITS, exact=True)).to_be_visible()
    screenshot(page, "batch-endpoints")
    page.get_by_role("link", name=DIGITS, exact=True).click()
    expect(page.get_by_role("heading", name="Invoke")).to_be_visible()
    expect(page.get_by_role("cell", name="digits-svc default")).to_be_visible()
    page.get_by_role("radio", name="A data asset").check()
    page.get_by_label("Data asset", exact=True).select_option(digits)
    page.get_by_label("mini_batch_size").fill("7")
    page.get_by_label("logging_level").select_option("debug")
    screenshot(page, "batch-endpoint-invoke", full_page=True)
    page.get_by_role("button", name="Invoke").click()

    page.wait_for_url(f"{studio_server.url}/studio/jobs/batchjob-*")
    progress = page.locator("#job-progress")
    expect(progress.locator(".job-state")).to_have_text("Completed", timeout=120_000)
    expect(progress.locator(".items-count")).to_have_text(f"{N_IMAGES} / {N_IMAGES}")
    expect(progress.locator(".items-failed")).to_have_text("0")
    # ceil(60 / 7) mini-batches: the form's override reached the job.
    expect(progress).to_contain_text("9 / 9")
    expect(page.locator("#job-workers tbody tr")).to_have_count(2)
    screenshot(page, "job-completed", full_page=True)

    page.get_by_role("link", name="Browse outputs").click()
    page.get_by_role("link", name="predictions.csv", exact=True).click()
    expect(page.locator("table.csv-table tbody tr")).to_have_count(N_IMAGES)
    screenshot(page, "job-outputs-predictions")


def test_gallery_shows_real_pngs_and_arrow_keys_move(
    logged_in_page: Page, studio_server: StudioServer, png: PngEndpoint, screenshot: Shot
) -> None:
    job = png.run("Completed", "Failed")
    page = logged_in_page
    page.goto(f"{studio_server.url}/studio/jobs/{job}")
    page.get_by_role("link", name="Image gallery").click()
    thumbs = page.locator("img.thumb")
    expect(thumbs).to_have_count(6)
    first = thumbs.first
    expect(first).to_be_visible()
    page.wait_for_function(LOADED, arg=first.element_handle())
    assert first.evaluate("img => img.naturalWidth") == 16  # pic-0.png is 16 px wide
    screenshot(page, "job-gallery")
    first.click()
    full = page.locator("img.full-image")
    page.wait_for_function(LOADED, arg=full.element_handle())
    page.keyboard.press("ArrowRight")
    page.wait_for_url("**/outputs/gallery/1")
    full = page.locator("img.full-image")
    page.wait_for_function(LOADED, arg=full.element_handle())
    assert full.evaluate("img => img.naturalWidth") == 17  # pic-1.png
    screenshot(page, "job-gallery-image")
    page.keyboard.press("ArrowLeft")
    page.wait_for_url("**/outputs/gallery/0")


def test_a_followed_log_loses_and_repeats_no_line_across_a_dropped_connection(
    logged_in_page: Page,
    studio_server: StudioServer,
    png: PngEndpoint,
    held: Path,
    screenshot: Shot,
) -> None:
    job = png.run("Running")
    log = png.folder(job) / "logs" / "follow.txt"
    expected = [f"line {i:03d} <b>not bold</b>" for i in range(90)]

    def append(lines: list[str]) -> None:
        with log.open("a", encoding="utf-8") as handle:
            handle.writelines(line + "\n" for line in lines)

    append(expected[:20])
    page = logged_in_page
    page.goto(f"{studio_server.url}/studio/jobs/{job}/logs/follow.txt")
    lines = page.locator("#log-lines li")
    expect(lines).to_have_count(20)
    append(expected[20:50])  # while following
    expect(lines).to_have_count(50)
    page.evaluate("window.ferryLogViewer.drop()")
    append(expected[50:70])  # while disconnected
    page.evaluate("window.ferryLogViewer.reconnect()")
    expect(lines).to_have_count(70)
    append(expected[70:])  # after the reconnect
    expect(lines).to_have_count(90)
    assert lines.all_text_contents() == expected
    assert page.locator("#log-lines b").count() == 0  # lines are text, never markup
    page.get_by_label("Search").fill("line 08")
    shown = page.locator("#log-lines li:visible")
    expect(shown).to_have_count(10)
    # A search hides lines but keeps their numbers: line 081 of the file is numbered 81.
    assert shown.evaluate_all("items => items.map(li => li.value)") == list(range(81, 91))
    expect(page.locator("#log-matches")).to_have_text("10 matching lines")
    screenshot(page, "job-log-follow", full_page=True)

    held.unlink()  # the job finishes; the stream ends with "eof"
    expect(page.locator("#log-status")).to_have_text(
        "end of file: the job has finished", timeout=60_000
    )
    assert lines.count() == 90


def test_resume_a_job_with_failed_items_from_its_page(
    logged_in_page: Page, studio_server: StudioServer, png: PngEndpoint, screenshot: Shot
) -> None:
    job = png.run("Completed", "Failed")
    page = logged_in_page
    page.goto(f"{studio_server.url}/studio/jobs/{job}")
    expect(page.locator("#job-progress .items-failed")).to_have_text("2")
    failed = page.locator("#failed-items td.file-name")
    expect(failed).to_have_count(2)
    assert sorted(Path(t).name for t in failed.all_text_contents()) == ["bad-0.txt", "bad-1.txt"]
    expect(page.locator("#failed-items")).to_contain_text("<script>alert(")  # as text
    screenshot(page, "job-failed-items", full_page=True)

    fixed = png.control / "fixed"
    fixed.touch()
    try:
        page.get_by_role("button", name="Resume").click()
        progress = page.locator("#job-progress")
        expect(progress.locator(".items-failed")).to_have_text("0", timeout=60_000)
        expect(progress.locator(".job-state")).to_have_text("Completed", timeout=60_000)
        expect(progress.locator(".items-count")).to_have_text("8 / 8")
        expect(page.locator("#failed-items")).to_contain_text("No failed items.")
    finally:
        fixed.unlink(missing_ok=True)
    screenshot(page, "job-resumed", full_page=True)


def test_batch_and_job_pages_fit_a_narrow_screen(
    browser_sign_in: Callable[[int, int], AbstractContextManager[Page]],
    studio_server: StudioServer,
    png: PngEndpoint,
    screenshot: Shot,
) -> None:
    job = png.run("Completed", "Failed")
    with browser_sign_in(400, 800) as page:
        for path in (
            "/studio/jobs",
            f"/studio/batch-endpoints/{ENDPOINT}",
            f"/studio/jobs/{job}",
            f"/studio/jobs/{job}/logs/job_result.txt",
            f"/studio/jobs/{job}/outputs/gallery",
            f"/studio/jobs/{job}/outputs/files/score/predictions.csv",
        ):
            page.goto(studio_server.url + path)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 400 px"
        screenshot(page, "narrow-job-predictions", full_page=True)
        page.goto(f"{studio_server.url}/studio/jobs/{job}")
        screenshot(page, "narrow-job", full_page=True)
        page.goto(f"{studio_server.url}/studio/jobs")
        screenshot(page, "narrow-jobs-list")


def test_cancel_a_running_job_from_its_page(
    logged_in_page: Page, studio_server: StudioServer, png: PngEndpoint, held: Path
) -> None:
    job = png.run("Running")
    page = logged_in_page
    page.goto(f"{studio_server.url}/studio/jobs/{job}")
    expect(page.locator("#job-progress .job-state")).to_have_text("Running")
    expect(page.locator("#job-workers")).to_contain_text("process000")
    dialogs: list[str] = []

    def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#job-progress .job-state")).to_have_text("Canceled", timeout=60_000)
    assert dialogs == [f"Cancel job {job}?"]
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)


def test_the_log_viewer_joins_a_line_sent_in_parts(
    logged_in_page: Page, studio_server: StudioServer, png: PngEndpoint
) -> None:
    job = png.run("Completed", "Failed")
    long_line = "y" * 150_000 + "<end>"
    log = png.folder(job) / "logs" / "wide.txt"
    log.write_text(f"before\n{long_line}\nafter\n", encoding="utf-8")
    page = logged_in_page
    page.goto(f"{studio_server.url}/studio/jobs/{job}/logs/wide.txt")
    expect(page.locator("#log-status")).to_have_text("end of file: the job has finished")
    lines = page.locator("#log-lines li")
    expect(lines).to_have_count(3)
    assert lines.nth(1).text_content() == long_line
    assert lines.evaluate_all("items => items.map(li => li.value)") == [1, 2, 3]
