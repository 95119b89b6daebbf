"""``ferry server start|status|stop|logs``, workspace selection and remote servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ferry.local_workspace.launcher import server_status
from ferry.local_workspace.layout import WorkspaceLayout
from ferry.settings import Settings
from tests.cli.conftest import Ferry, make_ferry


def test_server_lifecycle_and_single_server_per_workspace(tmp_path: Path) -> None:
    ferry = make_ferry(tmp_path / "ws")
    stopped = ferry("server", "status", expect=1).stderr
    assert stopped.strip() == (
        f"ERROR: no server running for workspace {(tmp_path / 'ws').resolve()}; "
        "start it with `ferry server start`."
    )
    try:
        info = ferry.json("server", "start")
        assert info["url"].startswith("http://127.0.0.1:")
        assert ferry.json("server", "status") == info
        assert ferry.json("server", "start") == info  # already running: same server

        second = subprocess.run(
            [sys.executable, "-m", "ferry.server"],
            capture_output=True,
            text=True,
            env=ferry.env,
            timeout=60,
            check=False,
        )
        assert second.returncode == 1
        assert "already running for workspace" in second.stderr
        assert f"pid {info['pid']}" in second.stderr and info["url"] in second.stderr

        logs = ferry("server", "logs", "--lines", "200").stdout
        assert logs.strip(), "the server log is empty"
        assert len(ferry("server", "logs", "--lines", "1").stdout.splitlines()) == 1
    finally:
        stop = subprocess.run(
            [sys.executable, "-m", "ferry.cli.main", "server", "stop"],
            capture_output=True,
            text=True,
            env=ferry.env,
            timeout=60,
            check=False,
        )
    assert json.loads(stop.stdout)["pid"] == info["pid"]
    ferry("server", "status", expect=1)
    assert "no server running" in ferry("server", "stop").stderr  # stopping twice is fine


def test_workspace_option_wins_over_the_environment(ferry: Ferry, tmp_path: Path) -> None:
    ferry("secret", "set", "marker", "--value", "v", "-o", "none")
    elsewhere = {"FERRY_WORKSPACE": str(tmp_path / "other")}
    for args in (
        ("--workspace", ferry.workspace, "secret", "list", "--query", "[].name", "-o", "tsv"),
        ("secret", "list", "--query", "[].name", "-o", "tsv", "--workspace", ferry.workspace),
    ):
        assert "marker" in ferry(*args, env=elsewhere).stdout.split()
    assert not (tmp_path / "other").exists()  # no server was auto-started there


def test_remote_server_by_url_and_token(ferry: Ferry, tmp_path: Path) -> None:
    ferry("secret", "set", "remote-marker", "--value", "v", "-o", "none")
    url = ferry.json("server", "status", "--query", "url")
    token = (ferry.workspace / "token").read_text(encoding="utf-8").strip()
    remote = {
        "FERRY_WORKSPACE": str(tmp_path / "unused"),
        "FERRY_SERVER_URL": url,
        "FERRY_TOKEN": token,
    }
    names = ferry("secret", "list", "--query", "[].name", "-o", "tsv", env=remote).stdout
    assert "remote-marker" in names.split()
    bad = ferry("secret", "list", env={**remote, "FERRY_TOKEN": "wrong"}, expect=1)
    assert bad.stderr.startswith("ERROR: ")
    assert not (tmp_path / "unused").exists()


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
