"""local_workspace/launcher.py: a workspace's server started in the background, stopped and
found again; a server is alive only while it holds the workspace lock and is not a zombie."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ferry.local_workspace.launcher import server_status, start_background, stop_server
from ferry.local_workspace.layout import WorkspaceLayout
from ferry.settings import Settings
from tests.cli.conftest import make_ferry


def test_stop_and_restart_keeps_data(tmp_path: Path) -> None:
    settings = Settings(workspace=tmp_path / "ws")
    first = start_background(settings)
    token = WorkspaceLayout(settings.resolved_workspace).read_token()
    headers = {"Authorization": f"Bearer {token}"}
    spec = {"name": "keep", "path": "https://example.invalid/m.bin"}
    assert (
        httpx.post(f"{first['url']}/api/v1/models", json=spec, headers=headers).status_code == 201
    )
    assert stop_server(settings) is not None
    assert server_status(settings) is None
    second = start_background(settings)
    try:
        got = httpx.get(f"{second['url']}/api/v1/models/keep", headers=headers).json()
        assert got["version"] == "1"
    finally:
        stop_server(settings)


def _state(pid: int) -> str:
    """The process state letter from /proc/<pid>/stat ('Z' for a zombie)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_killed_server_is_dead_at_once_even_as_a_zombie(tmp_path: Path) -> None:
    """kill(pid, 0) succeeds on a zombie; status, start and auto-start must not believe it."""
    ferry = make_ferry(tmp_path / "ws")
    layout = WorkspaceLayout(ferry.workspace)
    settings = Settings(workspace=ferry.workspace)
    zombies: list[subprocess.Popen[bytes]] = []
    try:
        for round_ in range(5):
            # This test process is the server's parent and does not reap it: it stays a zombie.
            server = subprocess.Popen(
                [sys.executable, "-m", "ferry.server"],
                env=ferry.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            zombies.append(server)
            deadline = time.monotonic() + 60
            while (layout.read_server_info() or {}).get("pid") != server.pid:
                assert time.monotonic() < deadline, "the server did not publish server.json"
                time.sleep(0.05)
            os.kill(server.pid, signal.SIGKILL)
            while _state(server.pid) != "Z":
                time.sleep(0.01)

            # Another process first: it cannot reap the zombie, only this one (its parent) can.
            status = ferry("server", "status", expect=1).stderr
            assert "no server running for workspace" in status
            assert server_status(settings) is None
            if round_ % 2:
                fresh = ferry.json("server", "start")
            else:  # a command auto-starts a new server
                ferry("secret", "list", "-o", "none")
                fresh = ferry.json("server", "status")
            assert fresh["pid"] != server.pid
            assert _state(server.pid) == "Z"  # still unreaped: liveness did not rely on reaping
            ferry("secret", "set", f"round-{round_}", "--value", "v", "-o", "none")
            assert json.loads(ferry("server", "stop", "-o", "json").stdout)["pid"] == fresh["pid"]
            ferry("server", "status", expect=1)
    finally:
        for server in zombies:
            server.kill()
            server.wait()
        ferry("server", "stop", "-o", "none")
