"""A worker's environment: the runtime path (never the server's site-packages), the spec's
variables and secrets, and none of the server's own settings."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import ferry
from ferry.workers import environ
from ferry.workers.spec import WorkerSpec


def test_a_source_checkout_puts_its_own_folder_on_the_path() -> None:
    root = Path(ferry.__file__).absolute().parents[1]
    if root.name in ("site-packages", "dist-packages"):
        pytest.skip("ferry is installed, not a source checkout")
    assert environ.runtime_path() == str(root)


def test_an_installed_ferry_stages_a_private_copy_of_the_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    staged = environ.stage_runtime(Path(ferry.__file__).absolute().parent)
    assert environ.stage_runtime(Path(ferry.__file__).absolute().parent) == staged  # cached
    package = Path(staged) / "ferry"
    assert sorted(p.name for p in package.iterdir()) == ["__init__.py", "runtime"]
    code = "import ferry, ferry.runtime.worker; print(ferry.__file__)"
    env = {**os.environ, "PYTHONPATH": staged}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(package / "__init__.py")


def test_the_spec_adds_its_variables_then_its_secrets_and_drops_the_server_settings() -> None:
    spec = WorkerSpec(
        worker_id="w",
        python=sys.executable,
        entry_script="/code/score.py",
        code_dir="/code",
        connect="/tmp/s.sock",
        env={"A": "from-env", "B": "${{secrets.b}}", "PYTHONPATH": "/user/lib"},
        secret_env={"B": "the-secret"},
    )
    base = {"HOME": "/home/u", "FERRY_TOKEN": "control-plane", "A": "from-server"}
    env = environ.worker_environ(spec, base, {"CUDA_VISIBLE_DEVICES": "1"})
    assert env["A"] == "from-env" and env["B"] == "the-secret" and env["HOME"] == "/home/u"
    assert "FERRY_TOKEN" not in env
    assert env["CUDA_VISIBLE_DEVICES"] == "1"
    assert env["PYTHONPATH"].split(os.pathsep) == [environ.runtime_path(), "/user/lib"]
    assert env["PYTHONUNBUFFERED"] == "1"
    # Secrets are never printed with the spec (logs, tracebacks).
    assert "the-secret" not in repr(spec) and "from-env" in repr(spec)
