"""Start, stop and find a local workspace's server process from outside it.

Used by ``ferry server start|stop|status`` and by SDK clients that auto-start a local server, the
way ``ray.init()`` starts a local cluster. Only the standard library: clients stay light.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ferry.errors import ServerError
from ferry.layout import WorkspaceLayout
from ferry.settings import Settings

__all__ = ["server_status", "start_background", "stop_server"]


def _alive(pid: int) -> bool:
    # A server this process started and that died is a zombie until reaped; reap it here so
    # it does not look alive.
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def server_status(settings: Settings) -> dict[str, Any] | None:
    """``server.json`` of the running server of this workspace, or ``None``."""
    layout = WorkspaceLayout(settings.resolved_workspace)
    info = layout.read_server_info()
    if info is None or not _alive(int(info.get("pid", 0))):
        return None
    return info


def start_background(settings: Settings, *, timeout: float = 30.0) -> dict[str, Any]:
    """Start a detached server for the workspace (or return the running one)."""
    running = server_status(settings)
    if running:
        return running
    layout = WorkspaceLayout(settings.resolved_workspace)
    layout.ensure()
    env = dict(os.environ)
    env["FERRY_WORKSPACE"] = str(layout.root)
    if settings.store_url:
        env["FERRY_STORE_URL"] = settings.store_url
    env["FERRY_HOST"] = settings.host
    env["FERRY_PORT"] = str(settings.port)
    env["FERRY_MAX_BODY_BYTES"] = str(settings.max_body_bytes)
    env["FERRY_MAX_UNPACKED_BYTES"] = str(settings.max_unpacked_bytes)
    env["FERRY_MAX_UNPACKED_FILES"] = str(settings.max_unpacked_files)
    with layout.log_file.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ferry.server"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # survives the CLI that started it
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = layout.read_server_info()
        if info and info.get("pid") == proc.pid:
            return info
        code = proc.poll()
        if code is not None:
            raise ServerError(
                f"the Ferry server exited with code {code} while starting; last log lines:\n"
                + _tail(layout.log_file, 15),
            )
        time.sleep(0.05)
    raise ServerError(
        f"the Ferry server did not come up within {timeout:.0f} s; see {layout.log_file}."
    )


def stop_server(settings: Settings, *, timeout: float = 15.0) -> dict[str, Any] | None:
    """Stop the workspace's server; returns what was stopped, or ``None`` if none ran."""
    info = server_status(settings)
    if info is None:
        return None
    pid = int(info["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    return info


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
