"""``ferry server start|status|stop|logs``, workspace selection and remote servers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
