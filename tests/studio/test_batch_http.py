"""The batch endpoint page's Invoke form over plain HTTP: an upload becomes a data asset and a
job, a refused form comes back with the REST invoke's message and the values typed, and the form
needs its CSRF token."""

from __future__ import annotations

import re

import pytest

from tests.png_bytes import png_bytes
from tests.studio.conftest import SignedIn, StudioServer
from tests.studio.jobs_support import ENDPOINT, PngEndpoint, png_endpoint

INVOKE = f"/studio/batch-endpoints/{ENDPOINT}/invoke"


@pytest.fixture(scope="module")
def png(studio_server: StudioServer, tmp_path_factory: pytest.TempPathFactory) -> PngEndpoint:
    return png_endpoint(studio_server, tmp_path_factory.mktemp("studio-png"))


def test_endpoint_page_lists_deployments_and_the_form(
    signed_in_http: SignedIn, png: PngEndpoint
) -> None:
    page = signed_in_http.get(f"/studio/batch-endpoints/{ENDPOINT}")
    assert page.status_code == 200
    assert re.search(r"<td>png <span class=\"state\">default</span></td>", page.text)
    assert f'action="{INVOKE}"' in page.text
    assert 'name="csrf_token"' in page.text


def test_uploaded_files_are_staged_by_content_and_run(
    signed_in_http: SignedIn, png: PngEndpoint
) -> None:
    files = [
        ("upload", ("one.png", png_bytes(9, 9), "image/png")),
        ("upload", ("sub/two.png", png_bytes(10, 9), "image/png")),
    ]
    data = {"csrf_token": signed_in_http.csrf, "input_source": "upload", "mini_batch_size": "1"}
    response = signed_in_http.post(INVOKE, data=data, files=files)
    assert response.status_code == 303, response.text
    job = response.headers["location"].rsplit("/", 1)[-1]
    view = png.wait(job, "Completed", "Failed")
    assert view["status"] == "Completed", view
    # Staged by content as the CLI stages a folder: no data asset version is made.
    staged = str(view["input"]["path"])
    assert re.fullmatch(
        r"azureml://datastores/workspaceblobstore/paths/LocalInputs/[0-9a-f]+/input", staged
    ), staged
    assert view["overrides"] == {"mini_batch_size": 1}
    outputs = png.folder(job) / "named-outputs" / "score"
    assert sorted(p.name for p in outputs.glob("*.png")) == ["one.png", "two.png"]
    assert (outputs / "one.png").read_bytes() == png_bytes(9, 9)
    # The same files again are the same staged folder.
    again = signed_in_http.post(INVOKE, data=data, files=files)
    second = png.wait(again.headers["location"].rsplit("/", 1)[-1], "Completed", "Failed")
    assert second["input"]["path"] == staged


def test_a_refused_form_shows_the_invoke_error_and_keeps_the_values(
    signed_in_http: SignedIn, png: PngEndpoint
) -> None:
    data = {
        "csrf_token": signed_in_http.csrf,
        "input_source": "datastore",
        "datastore_path": "azureml://datastores/workspaceblobstore/paths/no/such/folder",
        "mini_batch_size": "3",
    }
    response = signed_in_http.post(INVOKE, data=data)
    assert response.status_code == 404, response.text  # as the REST invoke answers
    error = response.text.split('id="invoke-error">')[1].split("</p>")[0]
    assert error.startswith(
        "input azureml://datastores/workspaceblobstore/paths/no/such/folder does not exist"
    )
    assert 'value="3"' in response.text  # what was typed stays in the form

    bad_number = {**data, "datastore_path": "", "input_source": "asset", "max_retries": "two"}
    refused = signed_in_http.post(INVOKE, data=bad_number)
    assert refused.status_code == 400
    assert "max_retries must be a whole number, got &#39;two&#39;" in refused.text

    no_input = {"csrf_token": signed_in_http.csrf, "input_source": "asset"}
    refused = signed_in_http.post(INVOKE, data=no_input)
    assert refused.status_code == 400
    assert "input: pick a data asset" in refused.text


def test_the_form_needs_its_csrf_token(signed_in_http: SignedIn, png: PngEndpoint) -> None:
    data = {"input_source": "datastore", "datastore_path": "azureml://datastores/x/paths/y"}
    response = signed_in_http.post(INVOKE, data=data)
    assert response.status_code == 403
    assert "the request has no CSRF token" in response.text
