"""The local backend's runtime path: never the server's site-packages."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import ferry
from ferry.backends import local


def test_a_source_checkout_puts_its_own_folder_on_the_path() -> None:
    root = Path(ferry.__file__).absolute().parents[1]
    if root.name in ("site-packages", "dist-packages"):
        pytest.skip("ferry is installed, not a source checkout")
    assert local.runtime_path() == str(root)


def test_an_installed_ferry_stages_a_private_copy_of_the_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    staged = local._stage_runtime(Path(ferry.__file__).absolute().parent)
    assert local._stage_runtime(Path(ferry.__file__).absolute().parent) == staged  # cached
    package = Path(staged) / "ferry"
    assert sorted(p.name for p in package.iterdir()) == ["__init__.py", "runtime"]
    code = "import ferry, ferry.runtime.worker; print(ferry.__file__)"
    env = {**os.environ, "PYTHONPATH": staged}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(package / "__init__.py")
