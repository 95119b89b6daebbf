"""Run the real ``ferry`` command in subprocesses against a real server in a temporary workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Ferry:
    """``ferry ...`` as a subprocess, with ``FERRY_WORKSPACE`` pointing at one workspace."""

    workspace: Path
    env: dict[str, str] = field(default_factory=dict)

    def __call__(
        self,
        *args: str | Path,
        expect: int = 0,
        input: str | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``ferry *args``; fail the test unless it exits with ``expect``."""
        command = [sys.executable, "-m", "ferry.cli.main", *(str(a) for a in args)]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            input=input,
            cwd=cwd,
            env={**self.env, **(env or {})},
            timeout=120,
            check=False,
        )
        assert result.returncode == expect, (
            f"`ferry {' '.join(command[3:])}` exited {result.returncode}, expected {expect}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
        return result

    def json(self, *args: str | Path, cwd: Path | None = None) -> Any:
        """Run a command that succeeds and parse its JSON output."""
        return json.loads(self(*args, "-o", "json", cwd=cwd).stdout)


def make_ferry(workspace: Path) -> Ferry:
    # A developer's own FERRY_SERVER_URL/TOKEN must not send the tests to another server.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    env["FERRY_WORKSPACE"] = str(workspace)
    return Ferry(workspace=workspace, env=env)


@pytest.fixture(scope="module")
def ferry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ferry]:
    """One workspace per test module; its server auto-starts on first use and stops at the end."""
    runner = make_ferry(tmp_path_factory.mktemp("cli-ws"))
    try:
        yield runner
    finally:
        runner("server", "stop", "-o", "none")
