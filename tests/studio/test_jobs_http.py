"""The job pages over plain HTTP: the log stream's resume by byte offset, escaping of user text,
server-side pages of failed items and outputs, and Resume/Cancel behind CSRF."""

from __future__ import annotations

import html
import os
import re
import signal
import time
from pathlib import Path

import httpx
import pytest

from ferry import pids
from ferry.local_workspace.launcher import server_status
from ferry.local_workspace.layout import WorkspaceLayout
from tests.conftest import running_server
from tests.studio.conftest import SignedIn, StudioServer, sign_in
from tests.studio.jobs_support import PngEndpoint, png_endpoint

# A file name cannot hold "/", so the tag is left open (a browser would still run it).
SCRIPT_NAME = "<script>alert(1).txt"


@pytest.fixture(scope="module")
def png(studio_server: StudioServer, tmp_path_factory: pytest.TempPathFactory) -> PngEndpoint:
    return png_endpoint(studio_server, tmp_path_factory.mktemp("studio-png"))


@pytest.fixture(scope="module")
def finished_job(png: PngEndpoint) -> str:
    """A finished job with 2 failed items, plus a hostile log file and a long log."""
    job = png.run("Completed", "Failed")
    logs = png.folder(job) / "logs"
    (logs / SCRIPT_NAME).write_text("<script>alert('line')</script>\n", encoding="utf-8")
    (logs / "long.txt").write_text("".join(f"line {i:06d} of a long log\n" for i in range(6000)))
    return job


def parse_events(text: str) -> list[dict[str, str]]:
    """SSE text -> events (``event``, ``id``, ``data`` joined by newlines); comments dropped."""
    events = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        data: list[str] = []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "data":
                data.append(value)
            else:
                fields[key] = value
        if data:
            events.append({**fields, "data": "\n".join(data)})
    return events


def _stream(client: httpx.Client, url: str, **headers: str) -> list[dict[str, str]]:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_events(response.text)


def test_log_stream_resumes_from_last_event_id_without_loss_or_repeat(
    signed_in_http: SignedIn, png: PngEndpoint, finished_job: str
) -> None:
    url = f"/studio/jobs/{finished_job}/logs/long.txt/stream"
    expected = (png.folder(finished_job) / "logs" / "long.txt").read_text().splitlines()

    events = _stream(signed_in_http, url)
    lines = [e for e in events if e.get("event") == "lines"]
    assert len(lines) >= 2, "a 150 KB log should arrive in several events"
    assert events[-1]["event"] == "eof"
    assert [x for e in lines for x in e["data"].split("\n")] == expected

    # Reconnect after the first event, as a browser does: Last-Event-ID is its byte offset.
    first = lines[0]
    seen = first["data"].split("\n")
    resumed = _stream(signed_in_http, url, **{"Last-Event-ID": first["id"]})
    rest = [x for e in resumed if e.get("event") == "lines" for x in e["data"].split("\n")]
    assert seen + rest == expected

    # The header wins over ?offset= (the page's first URL stays in the EventSource).
    both = _stream(signed_in_http, url + "?offset=0", **{"Last-Event-ID": first["id"]})
    assert [x for e in both if e.get("event") == "lines" for x in e["data"].split("\n")] == rest

    # Any id is the offset of a line start: resuming mid-file starts exactly at a line.
    offset = sum(len(line) + 1 for line in expected[:4321])
    tail = _stream(signed_in_http, f"{url}?offset={offset}")
    assert [x for e in tail if e.get("event") == "lines" for x in e["data"].split("\n")] == (
        expected[4321:]
    )


def test_a_bad_last_event_id_is_refused_naming_the_field(
    signed_in_http: SignedIn, finished_job: str
) -> None:
    url = f"/studio/jobs/{finished_job}/logs/long.txt/stream"
    response = signed_in_http.get(url, headers={"Last-Event-ID": "abc"})
    assert response.status_code == 400
    assert "Last-Event-ID must be a byte offset" in response.text


def test_script_in_a_log_file_name_and_line_renders_inert(
    signed_in_http: SignedIn, finished_job: str
) -> None:
    page = signed_in_http.get(f"/studio/jobs/{finished_job}")
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(1).txt" in page.text

    log_url = f"/studio/jobs/{finished_job}/logs/{httpx.URL(SCRIPT_NAME).raw_path.decode()}"
    viewer = signed_in_http.get(log_url)
    assert viewer.status_code == 200
    assert "<script>alert" not in viewer.text
    assert "&lt;script&gt;alert(1).txt" in viewer.text
    # The line travels as SSE text (the page inserts it as textContent), never as HTML.
    stream = signed_in_http.get(log_url + "/stream")
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.headers["x-content-type-options"] == "nosniff"
    lines = [e["data"] for e in parse_events(stream.text) if e.get("event") == "lines"]
    assert lines == ["<script>alert('line')</script>"]


def test_failed_items_table_is_paged_and_escaped(
    signed_in_http: SignedIn, finished_job: str
) -> None:
    htmx = {"HX-Request": "true"}
    url = f"/studio/jobs/{finished_job}/failed"
    page = signed_in_http.get(url, params={"offset": 0}, headers=htmx)
    assert page.status_code == 200
    assert "<html" not in page.text  # a fragment for htmx to swap in
    rows = re.findall(r'<td class="file-name">([^<]*)</td>', page.text)
    assert sorted(Path(r).name for r in rows) == ["bad-0.txt", "bad-1.txt"]
    assert "&lt;script&gt;alert(" in page.text
    assert "<script>alert(" not in page.text
    past = signed_in_http.get(url, params={"offset": 2}, headers=htmx)
    assert re.findall(r'<td class="file-name">', past.text) == []
    # Without htmx (no script), the link opens the whole job page at that page of the table.
    plain = signed_in_http.get(url, params={"offset": 1})
    assert plain.status_code == 303
    assert plain.headers["location"] == f"/studio/jobs/{finished_job}?failed_offset=1#failed-h"
    whole = signed_in_http.get(plain.headers["location"])
    assert len(re.findall(r'<td class="file-name">', whole.text)) == 1
    assert "2\u20132 of 2" in whole.text  # rows 2-2 (an en dash)


def test_outputs_browser_table_gallery_and_image(
    signed_in_http: SignedIn, finished_job: str
) -> None:
    base = f"/studio/jobs/{finished_job}/outputs"
    home = signed_in_http.get(base, follow_redirects=True)
    assert home.status_code == 200
    assert "predictions.csv" in home.text
    table = signed_in_http.get(f"{base}/files/score/predictions.csv")
    assert table.status_code == 200
    cells = re.findall(r"<td>(pic-\d\.png)</td>", table.text)
    assert sorted(cells) == [f"pic-{i}.png" for i in range(6)]
    gallery = signed_in_http.get(f"{base}/gallery")
    thumbs = re.findall(r'<img class="thumb" src="([^"]+)"', gallery.text)
    assert len(thumbs) == 6
    image = signed_in_http.get(thumbs[0])
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
    missing = signed_in_http.get(f"{base}/gallery/6")
    assert missing.status_code == 404
    assert "image 6 is not in this job&#39;s gallery; it has 6 images" in missing.text


def test_resume_and_cancel_need_the_csrf_token(signed_in_http: SignedIn, finished_job: str) -> None:
    for action in ("resume", "cancel"):
        refused = signed_in_http.post(f"/studio/jobs/{finished_job}/{action}", data={})
        assert refused.status_code == 403
        assert "the request has no CSRF token" in refused.text


def test_log_path_outside_the_logs_folder_is_refused(
    signed_in_http: SignedIn, finished_job: str
) -> None:
    response = signed_in_http.get(f"/studio/jobs/{finished_job}/logs/..%2F..%2Fjob.json")
    assert response.status_code == 400
    assert "is outside the folder it must stay in" in response.text


def test_progress_stream_pushes_state_changes_until_done(
    studio_server: StudioServer, png: PngEndpoint
) -> None:
    hold = png.control / "hold"
    hold.touch()
    try:
        job = png.run("Running")
        with httpx.Client(base_url=studio_server.url, timeout=60) as client:
            sign_in(studio_server, client)
            with client.stream("GET", f"/studio/jobs/{job}/events") as response:
                assert response.status_code == 200
                seen: list[dict[str, str]] = []
                buffer = ""
                for chunk in response.iter_text():
                    buffer += chunk
                    *blocks, buffer = buffer.split("\n\n")
                    seen.extend(parse_events("\n\n".join(blocks) + "\n\n"))
                    names = [e.get("event") for e in seen]
                    if "progress" in names and "workers" in names and hold.exists():
                        hold.unlink()  # the page has the running job: now let it finish
                    if "done" in names:
                        break
    finally:
        hold.unlink(missing_ok=True)
    progress = [e["data"] for e in seen if e.get("event") == "progress"]
    assert "Running" in progress[0]
    assert "Completed" in progress[-1]
    assert "8 / 8</span> done" in progress[-1]
    workers = [e["data"] for e in seen if e.get("event") == "workers"]
    assert "process000" in workers[-1]
    logs = [e["data"] for e in seen if e.get("event") == "logs"]
    assert "prepare.txt</a>" in logs[0]
    assert seen[-1] == {"event": "done", "data": "Completed"}


@pytest.mark.timeout(120)  # without the fix the stream never ends: fail, do not hang
def test_an_open_job_page_does_not_hold_the_server_when_it_is_asked_to_stop(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    for settings in running_server(tmp_path_factory.mktemp("stop-ws")):
        info = server_status(settings)
        assert info is not None
        token = WorkspaceLayout(settings.resolved_workspace).read_token()
        assert token is not None
        server = StudioServer(settings, str(info["url"]).rstrip("/"), token)
        png = png_endpoint(server, tmp_path_factory.mktemp("stop-png"))
        (png.control / "hold").touch()  # the job runs until the server stops
        job = png.run("Running")
        with httpx.Client(base_url=server.url, timeout=60) as client:
            sign_in(server, client)
            with client.stream("GET", f"/studio/jobs/{job}/events") as response:
                chunks = response.iter_text()
                first = ""
                while "event: progress" not in first:
                    first += next(chunks)
                os.kill(int(info["pid"]), signal.SIGTERM)
                rest = "".join(chunks)  # returns once the stream ends
        assert "event: done" not in rest  # it ended because the server stops, not the job
        assert _exits(int(info["pid"])), "the server did not exit after SIGTERM"


def _exits(pid: int) -> bool:
    """Whether ``pid`` exits within a minute (it is not our child: poll it)."""
    for _ in range(600):
        if not pids.running(pid):
            return True
        time.sleep(0.1)
    return False


def test_jobs_list_pages_newest_first(signed_in_http: SignedIn, finished_job: str) -> None:
    page = signed_in_http.get("/studio/jobs")
    assert page.status_code == 200
    names = re.findall(r'<td><a href="/studio/jobs/([^"]+)">', page.text)
    assert finished_job in names
    past = signed_in_http.get("/studio/jobs", params={"offset": len(names)})
    assert re.findall(r'<td><a href="/studio/jobs/([^"]+)">', past.text) == []
    assert "Newer</a>" in past.text and "Older</a>" not in past.text


def _joined(events: list[dict[str, str]]) -> list[str]:
    """The lines of ``lines`` and ``part`` events as the log viewer puts them together."""
    lines: list[str] = []
    open_line = False
    for e in events:
        if e.get("event") not in ("lines", "part"):
            continue
        parts = e["data"].split("\n")
        if open_line:
            lines[-1] += parts.pop(0)
        lines.extend(parts)
        open_line = e["event"] == "part"
    return lines


def test_a_line_longer_than_an_event_arrives_in_parts_and_joins(
    signed_in_http: SignedIn, png: PngEndpoint, finished_job: str
) -> None:
    long_line = "x" * 150_000 + "<end>"
    log = png.folder(finished_job) / "logs" / "wide.txt"
    log.write_text(f"before\n{long_line}\nafter\n", encoding="utf-8")
    events = _stream(signed_in_http, f"/studio/jobs/{finished_job}/logs/wide.txt/stream")
    assert [e["event"] for e in events].count("part") >= 2
    assert _joined(events) == ["before", long_line, "after"]


def test_a_folder_asked_for_as_a_raw_file_is_refused_saying_how_to_download_it(
    signed_in_http: SignedIn, finished_job: str
) -> None:
    response = signed_in_http.get(f"/studio/jobs/{finished_job}/outputs/raw/score")
    assert response.status_code == 400
    message = html.unescape(response.text)  # the error page escapes the quotes
    assert "path 'score' is a folder; download the outputs with" in message
    assert f"ferry job download --name {finished_job}" in message
