"""The online endpoint pages against a real server with real replicas.

One endpoint, ``studio-online``, with two deployments: ``sklearn`` (Azure's model-1 sample,
as tests/online/test_azure_sample.py deploys it) and ``echo`` (a script that echoes JSON, answers
a PNG when sent one, and fails on request). The httpx tests (unit suite) check what the HTML
holds: keys only once revealed, CSRF refusals, escaped model output, the traffic rule, metrics,
log following with ``Last-Event-ID``, and snippets that work as pasted. The browser tests
(``-m browser``) drive the Test tab, key regeneration and the traffic form in chromium.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from ferry import MLClient
from ferry.specs.loader import load_spec
from ferry.specs.online import OnlineDeploymentSpec
from tests.online.conftest import SERVER_PYTHON, deploy, make_endpoint, wait_for, write_code
from tests.png_bytes import png_bytes
from tests.studio.conftest import SignedIn, StudioServer

if TYPE_CHECKING:
    from playwright.sync_api import Page

ENDPOINT = "studio-online"
PAGE = f"/studio/online-endpoints/{ENDPOINT}"

ECHO_PY = """
import base64
import json

from azureml.contrib.services.aml_response import AMLResponse


def init():
    print("echo: ready", flush=True)


def run(raw):
    data = json.loads(raw)
    print("echo: scored", json.dumps(data)[:200], flush=True)
    if "png_b64" in data:
        return AMLResponse(base64.b64decode(data["png_b64"]), 200, {"Content-Type": "image/png"})
    if data.get("fail"):
        raise ValueError("asked to fail")
    return {"deployment": "echo", "echo": data}
"""

# The score.py of Azure's model-1 sample (not shipped with the data), as Azure writes it.
SKLEARN_PY = """
import json
import logging
import os

import joblib
import numpy


def init():
    global model
    model_path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model/sklearn_regression_model.pkl")
    model = joblib.load(model_path)
    logging.info("Init complete")


def run(raw_data):
    data = json.loads(raw_data)["data"]
    return model.predict(numpy.array(data)).tolist()
"""


@pytest.fixture(scope="module")
def online(
    studio_server: StudioServer, examples: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MLClient]:
    """``studio-online`` with ``echo`` (100%) and ``sklearn`` (0%), both Succeeded."""
    client = MLClient(settings=studio_server.settings)
    make_endpoint(client, ENDPOINT)
    deploy(client, ENDPOINT, "echo", write_code(tmp_path_factory.mktemp("echo"), ECHO_PY))
    code = write_code(tmp_path_factory.mktemp("onlinescoring"), SKLEARN_PY)
    folder = examples / "online" / "managed" / "sample"
    overrides = [
        "name=sklearn",
        f"endpoint_name={ENDPOINT}",
        f"code_configuration.code={code}",
        f"environment={SERVER_PYTHON}",
    ]
    spec = load_spec(OnlineDeploymentSpec, folder / "blue-deployment.yml", overrides)
    client.online_deployments.begin_create_or_update(spec).result(timeout=180)
    try:
        yield client
    finally:
        client.close()


def _keys(client: MLClient) -> tuple[str, str]:
    keys = client.online_endpoints.get_keys(ENDPOINT)
    return keys.primary_key, keys.secondary_key  # type: ignore[union-attr, return-value]


def _scoring_url(client: MLClient) -> str:
    uri = client.online_endpoints.get(ENDPOINT).scoring_uri
    assert uri is not None
    return uri


def _traffic(client: MLClient) -> dict[str, int]:
    return dict(client.online_endpoints.get(ENDPOINT).traffic or {})


def _post(http: SignedIn, path: str, **fields: str) -> httpx.Response:
    return http.post(PAGE + path, data={"csrf_token": http.csrf, **fields})


# -- httpx: what the HTML holds -----------------------------------------------------------------


def test_keys_are_not_in_the_page_until_revealed(
    online: MLClient, signed_in_http: SignedIn
) -> None:
    primary, secondary = _keys(online)
    for tab in ("deployments", "keys", "test", "consume", "metrics", "logs"):
        page = signed_in_http.get(PAGE, params={"tab": tab})
        assert page.status_code == 200, (tab, page.text)
        assert primary not in page.text and secondary not in page.text, tab
    assert "The keys are hidden." in signed_in_http.get(PAGE, params={"tab": "keys"}).text

    revealed = _post(signed_in_http, "/keys/reveal")
    assert revealed.status_code == 200
    assert primary in revealed.text and secondary in revealed.text


def test_a_post_without_the_csrf_token_is_refused(
    online: MLClient, signed_in_http: SignedIn
) -> None:
    before = _traffic(online)
    missing = signed_in_http.post(
        PAGE + "/traffic", data={"traffic.echo": "0", "traffic.sklearn": "100"}
    )
    assert missing.status_code == 403
    assert "the request has no CSRF token (form field csrf_token" in missing.text
    wrong = signed_in_http.post(
        PAGE + "/keys/regenerate", data={"csrf_token": "not-the-token", "key_type": "primary"}
    )
    assert wrong.status_code == 403
    assert "the CSRF token does not belong to this session" in wrong.text
    reveal = signed_in_http.post(PAGE + "/keys/reveal")
    assert reveal.status_code == 403
    primary, _ = _keys(online)
    assert primary not in reveal.text
    assert _traffic(online) == before  # nothing changed


def test_a_script_tag_in_the_models_answer_renders_inert(
    online: MLClient, signed_in_http: SignedIn
) -> None:
    hostile = '<script>alert("owned")</script><img src=x onerror=alert(1)>'
    answer = _post(signed_in_http, "/test", deployment="echo", body=json.dumps({"text": hostile}))
    assert answer.status_code == 200, answer.text
    assert "HTTP 200" in answer.text
    assert "<script>alert" not in answer.text and "<img src=x" not in answer.text
    # The answer is shown, escaped (pretty-printed JSON, then HTML-escaped).
    assert "&lt;script&gt;alert(\\&#34;owned\\&#34;)&lt;/script&gt;" in answer.text


def test_the_test_tab_shows_model_errors_and_bad_json_with_their_status(
    online: MLClient, signed_in_http: SignedIn
) -> None:
    failed = _post(signed_in_http, "/test", deployment="echo", body='{"fail": true}')
    assert failed.status_code == 200
    assert "HTTP 424" in failed.text
    assert "the scoring script of deployment &#39;echo&#39; failed (ValueError: asked to fail)" in (
        failed.text
    )
    bad = _post(signed_in_http, "/test", deployment="echo", body='{"data": [1, 2,]}')
    assert bad.status_code == 422
    assert "the request body is not valid JSON (Expecting value at line 1, column 16)" in bad.text
    missing = _post(signed_in_http, "/test", deployment="nope", body="{}")
    assert "HTTP 404" in missing.text
    assert "has no deployment &#39;nope&#39;" in missing.text


def test_a_file_is_sent_as_it_is_and_an_image_answer_is_an_img(
    online: MLClient, signed_in_http: SignedIn
) -> None:
    png = png_bytes(12, 7)
    request = json.dumps({"png_b64": base64.b64encode(png).decode()}).encode()
    answer = signed_in_http.post(
        PAGE + "/test",
        data={"csrf_token": signed_in_http.csrf, "deployment": "echo", "body": ""},
        files={"file": ("request.json", request, "application/json")},
    )
    assert answer.status_code == 200, answer.text
    match = re.search(r'<img id="answer-image" src="data:image/png;base64,([^"]+)"', answer.text)
    assert match is not None, answer.text
    assert base64.b64decode(match.group(1)) == png
    assert "from request.json" in answer.text


def test_traffic_that_does_not_add_up_is_refused_and_nothing_changes(
    online: MLClient, signed_in_http: SignedIn
) -> None:
    before = _traffic(online)
    refused = _post(signed_in_http, "/traffic", **{"traffic.echo": "60", "traffic.sklearn": "30"})
    assert refused.status_code == 422
    assert "traffic percentages add up to 90 (echo=60, sklearn=30); they must add up to 100" in (
        refused.text
    )
    assert "Nothing was changed." in refused.text
    assert 'name="traffic.echo" value="60"' in refused.text  # what was typed stays in the form
    not_a_number = _post(signed_in_http, "/traffic", **{"traffic.echo": "half"})
    assert not_a_number.status_code == 400
    assert "the traffic of deployment &#39;echo&#39; is &#39;half&#39;" in not_a_number.text
    assert _traffic(online) == before


def test_the_mirror_is_set_from_the_same_form(online: MLClient, signed_in_http: SignedIn) -> None:
    traffic = _traffic(online)
    fields = {f"traffic.{d}": str(p) for d, p in traffic.items()}
    live = next(d for d, p in traffic.items() if p)
    idle = next(d for d, p in traffic.items() if not p)
    both = _post(signed_in_http, "/traffic", **fields, **{f"mirror.{live}": "10"})
    assert both.status_code == 422
    assert f"deployment &#39;{live}&#39; would get live traffic and mirror_traffic" in both.text
    saved = _post(signed_in_http, "/traffic", **fields, **{f"mirror.{idle}": "20"})
    assert saved.status_code == 303
    assert online.online_endpoints.get(ENDPOINT).mirror_traffic == {idle: 20}
    page = signed_in_http.get(saved.headers["location"])
    assert "Traffic saved." in page.text
    assert f'name="mirror.{idle}" value="20"' in page.text
    cleared = _post(signed_in_http, "/traffic", **fields, **{f"mirror.{idle}": "0"})
    assert cleared.status_code == 303
    assert not online.online_endpoints.get(ENDPOINT).mirror_traffic
    assert _traffic(online) == traffic


def test_the_metrics_fragment_counts_requests_and_errors(
    online: MLClient, signed_in_http: SignedIn
) -> None:
    url = _scoring_url(online)
    primary, _ = _keys(online)
    with httpx.Client(timeout=30) as http:
        for _ in range(3):
            ok = http.post(
                url,
                json={"x": 1},
                headers={"Authorization": f"Bearer {primary}", "azureml-model-deployment": "echo"},
            )
            assert ok.status_code == 200
        assert http.post(url, json={}, headers={"Authorization": "Bearer wrong"}).status_code == 401
    fragment = signed_in_http.get(PAGE + "/metrics")
    assert fragment.status_code == 200
    rows = dict(re.findall(r'<tr data-deployment="([^"]*)">(.*?)</tr>', fragment.text, re.S))
    assert set(rows) >= {"echo", "sklearn", ""}
    assert re.search(r'class="num requests-total">([0-9]+)<', rows["echo"]) is not None
    assert "401: " in rows[""]  # refused before a deployment was picked
    assert re.search(r"<td class=\"num nowrap\">[0-9.]+ (ms|s)</td>", rows["echo"])  # a p50


def test_snippets_work_as_pasted(
    online: MLClient, signed_in_http: SignedIn, examples: Path, tmp_path: Path
) -> None:
    page = signed_in_http.get(PAGE, params={"tab": "consume"})
    assert page.status_code == 200
    url = _scoring_url(online)
    primary, _ = _keys(online)
    assert primary not in page.text
    curl = _unescape(re.search(r'id="snippet-curl"[^>]*>(.*?)</pre>', page.text, re.S))
    python = _unescape(re.search(r'id="snippet-python"[^>]*>(.*?)</pre>', page.text, re.S))
    assert url in curl and url in python
    (tmp_path / "request.json").write_text(json.dumps({"data": [[1, 2]]}))
    env = {"PATH": "/usr/bin:/bin", "FERRY_ENDPOINT_KEY": primary}
    # The first line fetches the key with the CLI; here the key is given, so it is skipped.
    curl_body = curl.split("\n", 1)[1]
    assert shutil.which("curl"), "curl is required by the suite"
    done = subprocess.run(
        ["bash", "-c", curl_body], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["echo"] == {"data": [[1, 2]]}
    ran = subprocess.run(
        [shutil.which("python3") or "python3", "-c", python],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    assert "'echo': {'data': [[1, 2]]}" in ran.stdout


def _unescape(match: re.Match[str] | None) -> str:
    import html

    assert match is not None
    return html.unescape(match.group(1))


def test_following_a_replica_log_resumes_after_last_event_id(
    online: MLClient, signed_in_http: SignedIn
) -> None:
    page = signed_in_http.get(PAGE, params={"tab": "logs", "deployment": "echo"})
    assert page.status_code == 200
    match = re.search(r'data-stream="([^"]+)" data-offset="([0-9]+)"', page.text)
    assert match is not None, page.text
    stream = _unescape(match)
    assert stream.endswith("/deployments/echo/logs/echo-0.log/stream")
    url, primary = _scoring_url(online), _keys(online)[0]
    headers = {"Authorization": f"Bearer {primary}", "azureml-model-deployment": "echo"}

    def score(marker: str) -> None:
        with httpx.Client(timeout=30) as http:
            assert http.post(url, json={"marker": marker}, headers=headers).status_code == 200

    score("first-<b>")
    events = _read_events(signed_in_http, stream + f"?offset={match.group(2)}", {}, "first-")
    assert "first-<b>" in events[-1][1]  # raw text in the stream; the viewer inserts it as text
    resume = events[-1][0]
    score("second")
    score("third")
    later = _read_events(signed_in_http, stream, {"Last-Event-ID": resume}, until="third")
    lines = [line for _, data in later for line in data.split("\n")]
    assert not any("first-" in line for line in lines)  # nothing repeated
    assert sum("second" in line for line in lines) == 1
    assert sum("third" in line for line in lines) == 1
    assert int(later[0][0]) > int(resume)
    unknown = signed_in_http.get(stream.replace("echo-0.log", "server.log"))
    assert unknown.status_code == 404
    assert "deployment &#39;echo&#39; has no log" in unknown.text


def _read_events(
    http: httpx.Client, url: str, headers: dict[str, str], until: str
) -> list[tuple[str, str]]:
    """(id, data) of ``lines`` events until one holds ``until``."""
    events: list[tuple[str, str]] = []
    with http.stream("GET", url, headers=headers, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event: dict[str, list[str]] = {}
        for line in response.iter_lines():
            if line:
                field, _, value = line.partition(":")
                event.setdefault(field, []).append(value.removeprefix(" "))
                continue
            if event.get("event") == ["lines"]:
                events.append((event["id"][-1], "\n".join(event["data"])))
                if until in events[-1][1]:
                    return events
            event = {}
    raise AssertionError(f"the stream ended before a line with {until!r}: {events}")


def test_regenerating_needs_the_confirmation_page_and_csrf(
    online: MLClient, signed_in_http: SignedIn
) -> None:
    confirm = signed_in_http.get(PAGE + "/keys/regenerate", params={"key_type": "secondary"})
    assert confirm.status_code == 200
    assert "Regenerate the secondary key of studio-online?" in confirm.text
    old_primary, old_secondary = _keys(online)
    done = _post(signed_in_http, "/keys/regenerate", key_type="secondary")
    assert done.status_code == 303
    new_primary, new_secondary = _keys(online)
    assert new_primary == old_primary and new_secondary != old_secondary
    with httpx.Client(timeout=30) as http:
        refused = http.post(
            _scoring_url(online), json={}, headers={"Authorization": f"Bearer {old_secondary}"}
        )
    assert refused.status_code == 401
    bad = _post(signed_in_http, "/keys/regenerate", key_type="tertiary")
    assert bad.status_code == 400
    assert "key_type &#39;tertiary&#39; is not primary or secondary." in bad.text


def test_an_aml_token_endpoint_is_tested_with_a_token_and_has_no_keys_to_regenerate(
    online: MLClient, signed_in_http: SignedIn, tmp_path: Path
) -> None:
    name = "studio-token"
    make_endpoint(online, name, auth_mode="aml_token")
    deploy(online, name, "echo", write_code(tmp_path / "echo", ECHO_PY))
    page = f"/studio/online-endpoints/{name}"
    keys = signed_in_http.get(page, params={"tab": "keys"})
    assert "The token is hidden." in keys.text
    assert "/keys/regenerate" not in keys.text
    csrf = {"csrf_token": signed_in_http.csrf}
    revealed = signed_in_http.post(page + "/keys/reveal", data=csrf)
    token = re.search(r'<code class="secret">([^<]+)</code>', revealed.text)
    assert token is not None
    with httpx.Client(timeout=30) as http:
        scored = http.post(
            _scoring_url(online).replace(ENDPOINT, name),
            json={"via": "token"},
            headers={"Authorization": f"Bearer {token.group(1)}"},
        )
    assert scored.status_code == 200
    answer = signed_in_http.post(page + "/test", data={**csrf, "body": '{"via": "studio"}'})
    assert answer.status_code == 200
    assert "HTTP 200" in answer.text and "&#34;via&#34;: &#34;studio&#34;" in answer.text
    refused = signed_in_http.post(page + "/keys/regenerate", data={**csrf, "key_type": "primary"})
    assert refused.status_code == 409
    assert "uses aml_token auth; keys are regenerated only for auth_mode key" in refused.text


def test_without_a_session_every_online_route_goes_to_login(
    online: MLClient, studio_http: httpx.Client
) -> None:
    stream = PAGE + "/deployments/echo/logs/echo-0.log/stream"
    for path in ("/studio/online-endpoints", PAGE, PAGE + "/metrics", stream):
        response = studio_http.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/studio/login"), path
    polled = studio_http.get(PAGE + "/metrics", headers={"HX-Request": "true"})
    assert polled.status_code == 401
    assert polled.headers["hx-redirect"].startswith("/studio/login")
    primary, _ = _keys(online)
    for path in ("/keys/reveal", "/test", "/traffic", "/keys/regenerate"):
        refused = studio_http.post(PAGE + path, data={"key_type": "primary", "body": "{}"})
        assert refused.status_code == 303, path
        assert primary not in refused.text


def test_an_unknown_endpoint_is_a_404_page(signed_in_http: SignedIn) -> None:
    missing = signed_in_http.get("/studio/online-endpoints/no-such-endpoint")
    assert missing.status_code == 404
    assert "no-such-endpoint" in missing.text
    listing = signed_in_http.get("/studio/online-endpoints")
    assert listing.status_code == 200


# -- the browser --------------------------------------------------------------------------------


@pytest.mark.browser
def test_test_tab_in_the_browser_json_and_image(
    online: MLClient,
    logged_in_page: Page,
    studio_server: StudioServer,
    examples: Path,
    screenshot: Callable[..., Path],
) -> None:
    page = logged_in_page
    page.goto(studio_server.url + PAGE + "?tab=test")
    sample = examples / "online" / "model-1" / "sample-request.json"
    page.select_option("#test-deployment", "sklearn")
    page.fill("#test-body", sample.read_text())
    page.click("#test-send")
    page.wait_for_selector("#answer-text")
    assert page.inner_text("#answer-status") == "HTTP 200"
    assert page.inner_text("#answer-deployment") == "sklearn"
    answer = json.loads(page.inner_text("#answer-text"))
    assert [round(x, 2) for x in answer] == [11055.98, 4503.08]
    screenshot(page, "online-test-json", full_page=True)

    png = png_bytes(32, 16)
    page.select_option("#test-deployment", "echo")
    page.fill("#test-body", json.dumps({"png_b64": base64.b64encode(png).decode()}))
    page.click("#test-send")
    image = page.wait_for_selector("#answer-image")
    assert image is not None
    size = page.evaluate(
        "() => { const i = document.querySelector('#answer-image');"
        " return [i.complete, i.naturalWidth, i.naturalHeight]; }"
    )
    assert size == [True, 32, 16]
    assert page.query_selector("#answer-text") is None  # not dumped as text
    screenshot(page, "online-test-image", full_page=True)

    # At a phone's width every tab fits: nothing makes the page scroll sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    for tab in ("deployments", "keys", "test", "consume", "metrics", "logs"):
        page.goto(studio_server.url + PAGE + f"?tab={tab}")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, (tab, width)
    screenshot(page, "online-narrow", full_page=True)


@pytest.mark.browser
def test_regenerate_a_key_in_the_browser(
    online: MLClient,
    logged_in_page: Page,
    studio_server: StudioServer,
    screenshot: Callable[..., Path],
) -> None:
    page = logged_in_page
    old_primary, _ = _keys(online)
    page.goto(studio_server.url + PAGE + "?tab=keys")
    assert old_primary not in page.content()
    page.click("#reveal-keys")
    assert page.inner_text("#primary-key") == old_primary
    page.click("#regenerate-primary")
    page.wait_for_selector("#confirm-regenerate")
    screenshot(page, "online-regenerate-confirm")
    page.click("#confirm-regenerate")
    page.wait_for_selector(".notice")
    assert "The primary key was regenerated" in page.inner_text(".notice")
    new_primary, _ = _keys(online)
    assert new_primary != old_primary
    page.click("#reveal-keys")
    assert page.inner_text("#primary-key") == new_primary
    with httpx.Client(timeout=30) as http:
        url = _scoring_url(online)
        old = http.post(url, json={"x": 1}, headers={"Authorization": f"Bearer {old_primary}"})
        new = http.post(url, json={"x": 1}, headers={"Authorization": f"Bearer {new_primary}"})
    assert old.status_code == 401
    assert new.status_code == 200


@pytest.mark.browser
def test_change_traffic_in_the_browser(
    online: MLClient,
    logged_in_page: Page,
    studio_server: StudioServer,
    screenshot: Callable[..., Path],
) -> None:
    page = logged_in_page
    page.goto(studio_server.url + PAGE)
    before = _traffic(online)
    page.fill('input[name="traffic.echo"]', "70")
    page.fill('input[name="traffic.sklearn"]', "20")
    page.click("#traffic-form button[type=submit]")
    error = page.wait_for_selector("#traffic-error")
    assert error is not None
    assert "traffic percentages add up to 90" in error.inner_text()
    assert _traffic(online) == before
    screenshot(page, "online-traffic-refused", full_page=True)

    page.fill('input[name="traffic.echo"]', "50")
    page.fill('input[name="traffic.sklearn"]', "50")
    page.click("#traffic-form button[type=submit]")
    page.wait_for_selector(".notice")
    assert _traffic(online) == {"echo": 50, "sklearn": 50}
    rows = page.inner_text("#deployments")
    assert "50%" in rows
    # The gateway follows the new split: both deployments answer unpinned requests.
    primary, _ = _keys(online)
    seen: set[str] = set()

    def both_answer() -> bool:
        with httpx.Client(timeout=30) as http:
            response = http.post(
                _scoring_url(online),
                content=b'{"data": [[1,2,3,4,5,6,7,8,9,10]]}',
                headers={"Authorization": f"Bearer {primary}"},
            )
        seen.add(response.headers.get("azureml-model-deployment", ""))
        return seen >= {"echo", "sklearn"}

    wait_for(both_answer, 60, "requests to reach both deployments")
    page.goto(studio_server.url + PAGE + "?tab=metrics")
    page.wait_for_selector("#metrics-table")
    screenshot(page, "online-metrics", full_page=True)
    _restore(online, before)


def _restore(client: MLClient, traffic: dict[str, Any]) -> None:
    endpoint = client.online_endpoints.get(ENDPOINT)
    endpoint.traffic = traffic
    client.online_endpoints.begin_create_or_update(endpoint).result()


@pytest.mark.browser
def test_metrics_and_logs_update_live_in_the_browser(
    online: MLClient,
    logged_in_page: Page,
    studio_server: StudioServer,
    screenshot: Callable[..., Path],
) -> None:
    page = logged_in_page
    primary, _ = _keys(online)
    headers = {"Authorization": f"Bearer {primary}", "azureml-model-deployment": "echo"}

    def score(marker: str) -> None:
        with httpx.Client(timeout=30) as http:
            answer = http.post(_scoring_url(online), json={"marker": marker}, headers=headers)
        assert answer.status_code == 200

    page.goto(studio_server.url + PAGE + "?tab=metrics")
    cell = '#metrics-table tr[data-deployment="echo"] .requests-total'
    before = int(page.inner_text(cell))
    for i in range(3):
        score(f"metrics-{i}")
    # htmx polls the fragment: the count rises without a reload.
    page.wait_for_function(
        "([selector, count]) => Number(document.querySelector(selector).textContent) >= count",
        arg=[cell, before + 3],
        timeout=15_000,
    )

    page.goto(studio_server.url + PAGE + "?tab=logs&deployment=echo")
    page.wait_for_selector("#log-lines li")
    page.wait_for_function(
        "() => document.getElementById('log-status').textContent === 'following'"
    )
    score("followed-<i>live</i>")
    followed = page.wait_for_selector("#log-lines li >> text=followed-<i>live</i>")
    assert followed is not None
    assert page.query_selector("#log-lines i") is None  # the log line is text, not markup
    screenshot(page, "online-logs", full_page=True)
