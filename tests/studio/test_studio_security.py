"""The studio against hostile input and clients without a session (httpx; the unit suite).

A real server (``studio_server``): sign-in with one-time codes, the cookie on every page, static
files and metrics, CSRF on state-changing forms, and user text (file names, tags) escaped.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ferry import MLClient
from ferry.entities import Environment, Model
from tests.studio.conftest import SignedIn, StudioServer, sign_in

SCRIPT = "<script>alert(1)</script>"
# A file name cannot hold "/", so the file name's markup is an element that runs without one.
SCRIPT_FILE = "<img src=x onerror=alert(1)>.txt"
# Pages (and files) that must never be served without a session.
GUARDED = [
    "/studio/",
    "/studio",
    "/studio/assets/models",
    "/studio/assets/models/hostile/1",
    "/studio/assets/models/hostile/1/raw/weights.txt",
    "/studio/online-endpoints",
    "/studio/batch-endpoints",
    "/studio/jobs",
    "/studio/jobs/some-job/logs/user_logs/std_log.txt",
    "/studio/static/htmx.min.js",
    "/studio/static/sse.js",
    "/studio/static/studio.js",
    "/studio/online-endpoints/some-endpoint/metrics",
]


@pytest.fixture(scope="module")
def hostile_model(studio_server: StudioServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A model whose file name and tag carry a script element."""
    folder = tmp_path_factory.mktemp("hostile")
    (folder / SCRIPT_FILE).write_text("hello", encoding="utf-8")
    (folder / "weights.txt").write_text(f"text with {SCRIPT}\n", encoding="utf-8")
    (folder / "page.html").write_text(f"<html><body>{SCRIPT}</body></html>", encoding="utf-8")
    with MLClient(settings=studio_server.settings) as client:
        client.models.create_or_update(
            Model(
                name="hostile",
                version="1",
                path=str(folder),
                tags={"note": SCRIPT, SCRIPT: "as a key"},
                description=f"described as {SCRIPT}",
            )
        )
    return "/studio/assets/models/hostile/1"


@pytest.fixture
def another_session(studio_server: StudioServer) -> Iterator[SignedIn]:
    with SignedIn(base_url=studio_server.url, timeout=60) as client:
        client.csrf = sign_in(studio_server, client)
        yield client


@pytest.mark.parametrize("path", GUARDED)
def test_without_the_cookie_every_page_redirects_to_login(
    studio_http: httpx.Client, path: str
) -> None:
    response = studio_http.get(path)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/studio/login")
    login = studio_http.get(location)
    assert login.status_code == 200
    assert "ferry studio" in login.text  # it says how to get a login URL


def test_the_login_page_keeps_where_it_was_going(studio_http: httpx.Client) -> None:
    response = studio_http.get("/studio/assets/models?page_token=x")
    assert (
        response.headers["location"] == "/studio/login?next=/studio/assets/models%3Fpage_token%3Dx"
    )


def test_an_htmx_request_without_the_cookie_gets_401_and_hx_redirect(
    studio_http: httpx.Client,
) -> None:
    response = studio_http.get("/studio/jobs", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/studio/login?next=/studio/jobs"


def test_a_post_without_the_cookie_is_refused_before_its_body_is_read(
    studio_http: httpx.Client,
) -> None:
    response = studio_http.post(
        "/studio/assets/models/hostile/1/tags", data={"key": "k", "value": "v"}
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/studio/login")


def test_a_wrong_cookie_is_no_session(studio_http: httpx.Client) -> None:
    response = studio_http.get("/studio/", headers={"Cookie": "ferry_studio=made-up"})
    assert response.status_code == 303


def test_the_login_code_works_once(studio_server: StudioServer) -> None:
    url = studio_server.login_url()
    with httpx.Client(timeout=60) as first:
        response = first.get(url)
        assert response.status_code == 303
        assert response.headers["location"] == "/studio/"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "path=/studio" in cookie
    with httpx.Client(timeout=60) as second:
        again = second.get(url)
        assert again.status_code == 403
        assert "already used or has expired" in again.text
        assert "ferry_studio" not in again.headers.get("set-cookie", "")
        assert second.get(url.split("/studio/")[0] + "/studio/").status_code == 303


def test_a_made_up_login_code_is_refused(studio_http: httpx.Client) -> None:
    response = studio_http.get("/studio/login", params={"code": "not-a-code"})
    assert response.status_code == 403
    assert "Run `ferry studio` for a new one" in response.text


def test_login_codes_need_the_workspace_token(studio_http: httpx.Client) -> None:
    response = studio_http.post("/api/v1/studio/login-codes")
    assert response.status_code == 401
    assert "Authorization" in response.json()["message"]


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/api/v1/jobs"]
)
def test_login_never_sends_the_browser_to_another_site(
    studio_server: StudioServer, target: str
) -> None:
    with httpx.Client(timeout=60) as client:
        response = client.get(studio_server.login_url() + "&next=" + target)
    assert response.status_code == 303
    assert response.headers["location"] == "/studio/"


def test_login_goes_back_to_the_page_asked_for(studio_server: StudioServer) -> None:
    with httpx.Client(timeout=60) as client:
        response = client.get(studio_server.login_url("/studio/assets/data"))
    assert response.headers["location"] == "/studio/assets/data"


def test_static_files_are_served_with_a_session(signed_in_http: SignedIn) -> None:
    response = signed_in_http.get("/studio/static/htmx.min.js")
    assert response.status_code == 200
    assert "htmx" in response.text[:200]
    assert signed_in_http.get("/studio/static/sse.js").status_code == 200


def test_a_file_name_and_a_tag_with_a_script_render_inert(
    signed_in_http: SignedIn, hostile_model: str
) -> None:
    page = signed_in_http.get(hostile_model)
    assert page.status_code == 200
    assert SCRIPT not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text  # the tag
    assert "&lt;img src=x onerror=alert(1)&gt;.txt" in page.text  # the file name
    assert "described as &lt;script&gt;" in page.text  # the description
    versions = signed_in_http.get("/studio/assets/models/hostile")
    assert SCRIPT not in versions.text
    assert "described as &lt;script&gt;" in versions.text
    listing = signed_in_http.get("/studio/assets/models")
    assert SCRIPT not in listing.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing.text


def test_a_text_file_with_a_script_is_previewed_escaped(
    signed_in_http: SignedIn, hostile_model: str
) -> None:
    page = signed_in_http.get(hostile_model + "/files/weights.txt")
    assert page.status_code == 200
    assert SCRIPT not in page.text
    assert "text with &lt;script&gt;" in page.text


def test_an_html_file_is_downloaded_never_rendered(
    signed_in_http: SignedIn, hostile_model: str
) -> None:
    response = signed_in_http.get(hostile_model + "/raw/page.html")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("rel", "status", "message"),
    [
        ("%2e%2e%2f%2e%2e%2fetc%2fpasswd", 400, "outside the folder"),
        ("%2e%2e/%2e%2e/secret", 400, "outside the folder"),
        ("nope.txt", 404, "does not exist"),
    ],
)
def test_file_paths_are_checked(
    signed_in_http: SignedIn, hostile_model: str, rel: str, status: int, message: str
) -> None:
    response = signed_in_http.get(hostile_model + "/raw/" + rel)
    assert response.status_code == status, response.text
    assert message in response.text


def test_a_form_post_without_the_csrf_token_is_refused(
    signed_in_http: SignedIn, hostile_model: str
) -> None:
    response = signed_in_http.post(hostile_model + "/tags", data={"key": "k", "value": "v"})
    assert response.status_code == 403
    assert "has no CSRF token" in response.text
    assert "reload the page" in response.text
    tags = signed_in_http.get(hostile_model).text
    assert 'class="tag-key">k<' not in tags  # nothing changed


def test_a_csrf_token_of_another_session_is_refused(
    signed_in_http: SignedIn, another_session: SignedIn, hostile_model: str
) -> None:
    response = signed_in_http.post(
        hostile_model + "/tags",
        data={"key": "k", "value": "v", "csrf_token": another_session.csrf},
    )
    assert response.status_code == 403
    assert "does not belong to this session" in response.text


def test_a_form_post_with_the_token_sets_and_removes_a_tag(
    signed_in_http: SignedIn, hostile_model: str
) -> None:
    form = {"key": "stage", "value": "prod", "csrf_token": signed_in_http.csrf}
    response = signed_in_http.post(hostile_model + "/tags", data=form)
    assert response.status_code == 303
    page = signed_in_http.get(hostile_model).text
    assert re.search(r'class="tag-key">stage</td><td class="tag-value">prod<', page)
    removed = signed_in_http.post(
        hostile_model + "/tags", data={"remove": "stage", "csrf_token": signed_in_http.csrf}
    )
    assert removed.status_code == 303
    assert 'class="tag-key">stage<' not in signed_in_http.get(hostile_model).text


def test_the_csrf_header_works_for_htmx(signed_in_http: SignedIn, hostile_model: str) -> None:
    response = signed_in_http.post(
        hostile_model + "/tags",
        data={"key": "via-header", "value": "1"},
        headers={"X-CSRF-Token": signed_in_http.csrf},
    )
    assert response.status_code == 303
    signed_in_http.post(
        hostile_model + "/tags",
        data={"remove": "via-header"},
        headers={"X-CSRF-Token": signed_in_http.csrf},
    )


def test_logout_ends_the_session(another_session: SignedIn) -> None:
    refused = another_session.post("/studio/logout")
    assert refused.status_code == 403  # logging out is a state change: it needs the token too
    response = another_session.post("/studio/logout", data={"csrf_token": another_session.csrf})
    assert response.status_code == 303
    assert response.headers["location"] == "/studio/login?signed_out=1"
    assert another_session.get("/studio/").status_code == 303


def test_an_unknown_asset_kind_is_a_404_page(signed_in_http: SignedIn) -> None:
    response = signed_in_http.get("/studio/assets/widgets")
    assert response.status_code == 404
    assert "there is no asset kind &#39;widgets&#39;" in response.text
    assert response.headers["content-type"].startswith("text/html")


def test_an_environment_page_shows_its_resolution(
    signed_in_http: SignedIn, studio_server: StudioServer, tmp_path: Path
) -> None:
    conda = tmp_path / "conda.yaml"
    conda.write_text(
        "name: t\ndependencies:\n  - python=3.11\n  - pip:\n    - requests==2.31.0\n",
        encoding="utf-8",
    )
    with MLClient(settings=studio_server.settings) as client:
        client.environments.create_or_update(
            Environment(name="env-page", version="1", conda_file=str(conda), image="some/image")
        )
    page = signed_in_http.get("/studio/assets/environments/env-page/1")
    assert page.status_code == 200
    assert "requests==2.31.0" in page.text
    assert "base image &#39;some/image&#39; is not used" in page.text
    assert "Not built yet" in page.text


def test_the_whole_version_downloads_as_a_tar_gz(
    signed_in_http: SignedIn, hostile_model: str
) -> None:
    response = signed_in_http.get(hostile_model + "/download")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as archive:
        names = {Path(n).name for n in archive.getnames()}
    assert {"weights.txt", "page.html", SCRIPT_FILE} <= names
