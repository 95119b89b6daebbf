"""Start, stop and find a local workspace's server process from outside it.

Used by ``ferry server start|stop|status`` and by SDK clients that auto-start a local server, the
way ``ray.init()`` starts a local cluster. Only the standard library: clients stay light.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ferry.errors import ServerError
from ferry.local_workspace.layout import WorkspaceLayout
from ferry.pids import running
from ferry.settings import Settings

__all__ = ["server_status", "start_background", "stop_server"]


def _lock_held(layout: WorkspaceLayout) -> bool:
    """Whether a process holds the workspace's server lock: a server that runs or is starting."""
    # The kernel drops a flock as its holder exits, before the process is reaped, so unlike
    # kill(pid, 0), which succeeds on a zombie, this never takes a dead server for a live one.
    try:
        fd = os.open(layout.lock_file, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the probe's shared lock too (the server retries around it)
    return False


def _find(layout: WorkspaceLayout) -> tuple[bool, dict[str, Any] | None]:
    """(lock held, ``server.json`` of the live server). Held without a live ``server.json``
    means a server is starting: it takes the lock before it publishes its pid, and the file
    may still name a predecessor that was killed."""
    if not _lock_held(layout):
        return False, None
    info = layout.read_server_info()
    if info is None or not running(int(info.get("pid", 0))):
        return True, None
    return True, info


def server_status(settings: Settings) -> dict[str, Any] | None:
    """``server.json`` of the running server of this workspace, or ``None``."""
    return _find(WorkspaceLayout(settings.resolved_workspace))[1]


def _wait_started(
    layout: WorkspaceLayout, timeout: float, proc: subprocess.Popen[bytes] | None
) -> dict[str, Any] | None:
    """Wait for ``proc``, or with None for whoever holds the lock, to publish ``server.json``.

    Returns None once the lock is free and none of ours is starting: the holder was a server
    that died (a killed process keeps its files, the lock among them, until its last thread
    has exited, which can take a moment after its main thread already shows as a zombie).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        locked, info = _find(layout)
        if info is not None and (proc is None or info.get("pid") == proc.pid):
            return info
        code = None if proc is None else proc.poll()
        if code is not None and not locked:
            raise ServerError(
                f"the Ferry server exited with code {code} while starting; last log lines:\n"
                + _tail(layout.log_file, 15),
            )
        if code is not None:
            proc = None  # another starter won the lock: that server is the one to wait for
        elif proc is None and not locked:
            return None
        time.sleep(0.05)
    raise ServerError(
        f"the Ferry server did not come up within {timeout:.0f} s; see {layout.log_file}."
    )


def start_background(settings: Settings, *, timeout: float = 30.0) -> dict[str, Any]:
    """Start a detached server for the workspace (or return the running one)."""
    layout = WorkspaceLayout(settings.resolved_workspace)
    locked, current = _find(layout)
    if current:
        return current
    if locked:  # one is starting (a second would only refuse), or one is still dying
        current = _wait_started(layout, timeout, None)
        if current:
            return current
    layout.ensure()
    env = dict(os.environ)
    env["FERRY_WORKSPACE"] = str(layout.root)
    if settings.store_url:
        env["FERRY_STORE_URL"] = settings.store_url
    env["FERRY_HOST"] = settings.host
    env["FERRY_PORT"] = str(settings.port)
    env.pop("FERRY_MAX_BODY_BYTES", None)  # the old name of FERRY_MAX_UPLOAD_BYTES, set next
    env["FERRY_MAX_UPLOAD_BYTES"] = str(settings.max_upload_bytes)
    env["FERRY_MAX_JSON_BYTES"] = str(settings.max_json_bytes)
    for name, value in (
        ("FERRY_METRICS_TOKEN", settings.metrics_token),
        ("FERRY_SSL_CERTFILE", settings.ssl_certfile),
        ("FERRY_SSL_KEYFILE", settings.ssl_keyfile),
    ):
        if value is not None:
            env[name] = str(value)
    env["FERRY_MAX_UNPACKED_BYTES"] = str(settings.max_unpacked_bytes)
    env["FERRY_MAX_UNPACKED_FILES"] = str(settings.max_unpacked_files)
    # The log holds endpoint names, paths and tracebacks: private, like the rest of the workspace.
    log_fd = os.open(layout.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(log_fd, 0o600)  # a log from before logs were private
    with os.fdopen(log_fd, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ferry.server"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # survives the CLI that started it
        )
    started = _wait_started(layout, timeout, proc)
    if started is None:  # it lost the lock to another starter, which then died
        raise ServerError(
            f"the Ferry server for workspace {layout.root} exited while starting; last log "
            f"lines:\n{_tail(layout.log_file, 15)}"
        )
    return started


def stop_server(settings: Settings, *, timeout: float = 15.0) -> dict[str, Any] | None:
    """Stop the workspace's server; returns what was stopped, or ``None`` if none ran."""
    layout = WorkspaceLayout(settings.resolved_workspace)
    deadline = time.monotonic() + timeout
    locked, info = _find(layout)
    if not locked:
        return None
    if info is None:  # starting: it has no pid to signal until it publishes server.json
        try:
            info = _wait_started(layout, max(0.0, deadline - time.monotonic()), None)
        except ServerError:
            info = None
        if info is None:
            return None  # it was dying, or gave up by itself
    pid = int(info["pid"])
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    # Gone means the lock is free (a new server may start) and the process has exited.
    while time.monotonic() < deadline and (_lock_held(layout) or running(pid)):
        time.sleep(0.05)
    if _lock_held(layout) or running(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        grace = time.monotonic() + 5.0
        while time.monotonic() < grace and (_lock_held(layout) or running(pid)):
            time.sleep(0.05)
    return info


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
