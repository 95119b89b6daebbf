"""The OpenAPI document tells the truth: a bounded schemathesis run against a real server.

Schemathesis reads ``/api/openapi.json`` and sends each operation schema-valid and schema-invalid
requests (examples, coverage, fuzzing and stateful phases), then runs every check: statuses,
content types, headers and bodies are documented, invalid data is refused with a 4xx and data the
schema calls valid is accepted. A random but valid name for a resource that does not exist is a
valid request for a missing thing, so its 404 counts as acceptance (schemathesis's default for
``positive_data_acceptance`` already lists 404 and 409).

The run goes through schemathesis's own command line (its stable interface, the one a user runs by
hand to reproduce a failure) derandomised, with a fixed number of examples per operation, and
with ``schemathesis.toml`` beside this file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferry.local_workspace.launcher import server_status
from ferry.local_workspace.layout import WorkspaceLayout
from ferry.settings import Settings
from tests.conftest import running_server

pytestmark = pytest.mark.slow

# Examples per operation and phase: enough to reach every documented status and the invalid
# variants of each parameter, few enough that the run takes well under a minute.
MAX_EXAMPLES = 20
# What each check may narrow for named operations, and why (the rules JSON Schema cannot state).
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Settings]:
    """A server of its own (the fuzzer creates and deletes freely) with one of each resource.

    schemathesis.toml offers these names (with the built-in 'local' compute and
    'workspaceblobstore' datastore) for half of the name path parameters, so operations on an
    existing resource are tested, not only the 404 of a random name.
    """
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.txt").write_text("weights\n")
    for settings in running_server(tmp_path / "ws"):
        with _api(settings) as api:
            for path, body in [
                ("/api/v1/online-endpoints", {"name": "seed-online"}),
                ("/api/v1/batch-endpoints", {"name": "seed-batch"}),
                ("/api/v1/models", {"name": "seed-model", "version": "1", "path": model.as_uri()}),
            ]:
                response = api.post(path, json=body)
                assert response.status_code == 201, response.text
        yield settings


def _api(settings: Settings) -> httpx.Client:
    info = server_status(settings)
    assert info is not None
    token = WorkspaceLayout(settings.resolved_workspace).read_token()
    return httpx.Client(base_url=info["url"], headers={"Authorization": f"Bearer {token}"})


def _run_schemathesis(settings: Settings, report: Path) -> tuple[dict[str, Any], str]:
    info = server_status(settings)
    assert info is not None
    token = WorkspaceLayout(settings.resolved_workspace).read_token()
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{info['url']}/api/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        # Derandomised, and so with no example database: every run sends the same requests.
        "--generation-deterministic",
        "--workers",
        "1",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    done = subprocess.run(
        command, cwd=report.parent, capture_output=True, text=True, timeout=240, check=False
    )
    assert report.exists(), done.stdout[-4000:] + done.stderr[-4000:]
    return json.loads(report.read_text()), done.stdout


def test_schemathesis_finds_no_failures(fresh_server: Settings, tmp_path: Path) -> None:
    report, output = _run_schemathesis(fresh_server, tmp_path / "report.json")
    assert report["operations"]["tested"] == report["operations"]["selected"] > 0
    assert report["operations"]["errored"] == 0, output[-8000:]
    failures = Counter({f"{f['code']} {f['title']}": f["count"] for f in report["failures"]})
    # On failure the output names each operation, the request (as curl) and the response.
    assert dict(failures) == {}, output[-12000:]
    assert report["errors"] == [], output[-8000:]
