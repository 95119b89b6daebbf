"""A batch endpoint for the job page's tests, on the studio test server, driven from the test.

``studio-png``'s script copies each PNG it scores into the job's outputs (the gallery), prints a
line per item (the logs), fails items named ``*bad*`` with a ``<script>`` in the message until
``<control>/fixed`` exists (the failed-items table, Resume), and holds each mini-batch while
``<control>/hold`` exists (a job that stays Running while a test follows its log).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ferry import BatchDeployment, BatchEndpoint, MLClient, Model
from ferry.specs.batch import BatchDeploymentSettings, BatchRetrySettings, CodeConfigurationSpec
from tests.png_bytes import png_bytes
from tests.studio.conftest import StudioServer

ENDPOINT = "studio-png"

SCRIPT = """
import os
import shutil
import time
from pathlib import Path


def init():
    global out, control
    out = Path(os.environ["AZUREML_BI_OUTPUT_PATH"])
    control = Path(os.environ["STUDIO_CONTROL"])


def run(mini_batch):
    rows = []
    for item in map(Path, mini_batch):
        print(f"scoring {item.name}", flush=True)
        if "bad" in item.name and not (control / "fixed").exists():
            raise ValueError(f"<script>alert('{item.name}')</script> cannot be scored")
        if item.suffix == ".png":
            shutil.copyfile(item, out / item.name)
        rows.append(f"{item.name} ok")
    while (control / "hold").exists():
        time.sleep(0.05)
    return rows
"""


@dataclass
class PngEndpoint:
    """The endpoint, its control folder and an input folder of 6 PNGs and 2 bad items."""

    server: StudioServer
    control: Path
    inputs: Path

    def invoke(self, **overrides: object) -> str:
        """Start a job on the inputs (read in place); return its name."""
        with self.server.api() as api:
            body = {
                "input": {"type": "uri_folder", "path": f"file://{self.inputs}"},
                "params_override": overrides,
            }
            response = api.post(f"/api/v1/batch-endpoints/{ENDPOINT}/jobs", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["name"])

    def run(self, *states: str) -> str:
        """Start a job on the inputs; return its name once its status is one of ``states``."""
        job = self.invoke()
        self.wait(job, *states)
        return job

    def wait(self, job: str, *states: str, timeout: float = 120) -> dict[str, object]:
        """The job once its status is one of ``states``."""
        deadline = time.monotonic() + timeout
        with self.server.api() as api:
            while True:
                view: dict[str, object] = api.get(f"/api/v1/jobs/{job}").json()
                if view["status"] in states:
                    return view
                assert time.monotonic() < deadline, f"job {job} is still {view['status']}"
                time.sleep(0.2)

    def folder(self, job: str) -> Path:
        return self.server.workspace / "blobstore" / "azureml" / job


_made: dict[str, PngEndpoint] = {}


def png_endpoint(server: StudioServer, tmp: Path) -> PngEndpoint:
    """Create the endpoint once per server (``tmp`` holds its code, control and inputs)."""
    if server.url in _made:
        return _made[server.url]
    code = tmp / "code"
    code.mkdir(parents=True)
    (code / "driver.py").write_text(SCRIPT, encoding="utf-8")
    control = tmp / "control"
    control.mkdir()
    inputs = tmp / "inputs"
    inputs.mkdir()
    for i in range(6):
        (inputs / f"pic-{i}.png").write_bytes(png_bytes(16 + i, 12))
    for i in range(2):
        (inputs / f"bad-{i}.txt").write_text("x", encoding="utf-8")
    weights = tmp / "weights.bin"
    weights.write_bytes(b"w")
    client = MLClient(settings=server.settings)
    try:
        client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=ENDPOINT))
        deployment = BatchDeployment(
            name="png",
            endpoint_name=ENDPOINT,
            model=Model(name="studio-png-model", path=str(weights)),
            code_configuration=CodeConfigurationSpec(code=str(code), scoring_script="driver.py"),
            environment="ferry:server-python",
            settings=BatchDeploymentSettings(
                environment_variables={"STUDIO_CONTROL": str(control)},
                mini_batch_size=1,
                max_concurrency_per_instance=2,
                error_threshold=-1,
                retry_settings=BatchRetrySettings(max_retries=0, timeout=60),
            ),
        )
        client.batch_deployments.begin_create_or_update(deployment, set_default=True)
    finally:
        client.close()
    made = PngEndpoint(server, control, inputs)
    _made[server.url] = made
    return made
