"""Files for the batch CLI tests: Azure-style endpoint/deployment YAML, a tiny scoring script,
input folders, and a way to run ``ferry`` under a pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from tests.cli.conftest import Ferry

DRIVER = """\
import os
import time


def init():
    print("init done")


def run(mini_batch):
    time.sleep(float(os.environ.get("SLEEP", "0")))
    print(f"scored {len(mini_batch)} files")
    return [f"{os.path.basename(path)},{open(path).read().strip()}" for path in mini_batch]
"""

FAILING_DRIVER = """\
import os


def init():
    pass


def run(mini_batch):
    raise ValueError(f"cannot score {os.path.basename(mini_batch[0])}: bad pixels")
"""

ENDPOINT_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/batchEndpoint.schema.json
name: {name}
description: Scores text files.
auth_mode: aad_token
"""

DEPLOYMENT_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/modelBatchDeployment.schema.json
name: {name}
description: Echoes each file's content.
endpoint_name: {endpoint}
type: model
code_configuration:
  code: code
  scoring_script: batch_driver.py
environment: ferry:server-python
compute: azureml:batch-cluster
resources:
  instance_count: 1
settings:
  max_concurrency_per_instance: 1
  mini_batch_size: 2
  output_action: append_row
  output_file_name: predictions.csv
  retry_settings:
    max_retries: 0
    timeout: 60
  error_threshold: 0
  logging_level: info
"""


def write_project(folder: Path, endpoint: str, deployment: str) -> tuple[Path, Path]:
    """``endpoint.yml``, ``deployment.yml`` and ``code/`` (both scripts) in ``folder``."""
    (folder / "code").mkdir(parents=True, exist_ok=True)
    (folder / "code" / "batch_driver.py").write_text(DRIVER, encoding="utf-8")
    (folder / "code" / "failing_driver.py").write_text(FAILING_DRIVER, encoding="utf-8")
    endpoint_yml = folder / "endpoint.yml"
    endpoint_yml.write_text(ENDPOINT_YML.format(name=endpoint), encoding="utf-8")
    deployment_yml = folder / "deployment.yml"
    deployment_yml.write_text(
        DEPLOYMENT_YML.format(name=deployment, endpoint=endpoint), encoding="utf-8"
    )
    return endpoint_yml, deployment_yml


def make_inputs(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"item-{i:03d}.txt").write_text(str(i * 10), encoding="utf-8")
    return folder


def run_in_pty(ferry: Ferry, *args: str, timeout: float = 120) -> tuple[int, str]:
    """Run ``ferry *args`` with a pseudo-terminal as stdin/stdout/stderr; (exit code, output)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
    env = {**ferry.env, "TERM": "xterm-256color", "COLUMNS": "140", "LINES": "40"}
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "CI"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ferry.cli.main", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed its end
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
        code = proc.wait(timeout=10)
    finally:
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", errors="replace")
