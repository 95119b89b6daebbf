"""Asset pages over httpx against a real server: an environment's real build, its resolution
report, build log and installed packages."""

from __future__ import annotations

import re
from pathlib import Path

from ferry import MLClient
from ferry.entities import Environment
from tests.studio.conftest import SignedIn, StudioServer


def test_a_built_environment_shows_its_report_log_and_packages(
    signed_in_http: SignedIn, studio_server: StudioServer, tmp_path: Path
) -> None:
    # No packages: a real uv build that needs no index, in seconds.
    conda = tmp_path / "conda.yaml"
    conda.write_text("name: bare\ndependencies:\n  - python=3.11\n", encoding="utf-8")
    with MLClient(settings=studio_server.settings) as client:
        client.environments.create_or_update(
            Environment(name="bare-env", version="1", conda_file=str(conda))
        )
        built = client.build_environment("bare-env", "1")
    page = signed_in_http.get("/studio/assets/environments/bare-env/1")
    assert page.status_code == 200
    assert f"Build <code>{built['hash']}</code>" in page.text
    assert built["python_version"] in page.text
    assert "Not built yet" not in page.text
    links = re.findall(r'href="(/studio/assets/environments/bare-env/1/builds/[^"]+)"', page.text)
    assert sorted(link.rsplit("/", 1)[1] for link in links) == ["freeze", "log"]
    log = signed_in_http.get(next(link for link in links if link.endswith("/log")))
    assert log.status_code == 200
    assert log.headers["content-type"].startswith("text/plain")
    assert "requirements: (none)" in log.text
    freeze = signed_in_http.get(next(link for link in links if link.endswith("/freeze")))
    assert freeze.status_code == 200
    # Only the builds found for this environment are served: a made-up one is a 404 page.
    other = signed_in_http.get("/studio/assets/environments/bare-env/1/builds/0123abcd/log")
    assert other.status_code == 404
    assert "has no build &#39;0123abcd&#39; with a &#39;log&#39; file" in other.text


def test_a_studio_path_that_matches_no_page_is_a_404_page(signed_in_http: SignedIn) -> None:
    response = signed_in_http.get("/studio/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Back to the overview" in response.text
