"""A replica's view says what kind of failure it is in: its process died (worker_crashed) or its
restart's ``init()`` raised (init_failed); a ready replica has none."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from ferry import MLClient
from tests.online.conftest import deploy, make_endpoint, wait_for, write_code

# init() works once; a restarted replica finds the marker and raises, so it crash-loops.
SCRIPT = """
import os

MARKER = os.environ["MARKER_FILE"]

def init():
    if os.path.exists(MARKER):
        raise RuntimeError("the model is gone")
    open(MARKER, "w").close()

def run(raw):
    return {"ok": True}
"""


def test_a_crash_looping_replica_says_init_failed(ml_client: MLClient, tmp_path: Path) -> None:
    code = write_code(tmp_path, SCRIPT)
    make_endpoint(ml_client, "kinds-ep")
    marker = tmp_path / "started-once"
    deploy(ml_client, "kinds-ep", "main", code, environment_variables={"MARKER_FILE": str(marker)})

    def replica() -> dict[str, object]:
        shown: dict[str, object] = ml_client.online_deployments.get("main", "kinds-ep").replicas[0]
        return shown

    ready = replica()
    assert (ready["state"], ready["failure_kind"], ready["error"]) == ("Ready", None, None)
    pid = ready["pid"]
    assert isinstance(pid, int)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: replica()["failure_kind"] == "init_failed", 30, "a failed restart")
    failed = replica()
    assert failed["state"] in ("Dead", "Failed", "Starting")
    error = failed["error"]
    assert isinstance(error, dict) and "the model is gone" in str(error.get("message"))
