"""The server process body: one server per workspace, published through ``server.json``.

``run_foreground`` takes the workspace lock (a second server refuses and names the first), binds,
writes ``server.json`` once it accepts connections and serves until signalled. Starting and
stopping it from outside is :mod:`ferry.local_workspace.launcher`'s job.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import os
import socket
import sys
import time
from datetime import datetime, timezone
from typing import IO

from ferry.errors import ServerError
from ferry.local_workspace.layout import WorkspaceLayout
from ferry.settings import Settings

__all__ = ["run_foreground"]

_LOCK_TRIES = 20  # 25 ms apart


def _lock(layout: WorkspaceLayout) -> IO[str]:
    handle = layout.lock_file.open("a+")
    # Clients probe the lock with a brief shared flock (local_workspace.launcher._lock_held): a
    # refusal counts only if it lasts.
    for _ in range(_LOCK_TRIES):
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            time.sleep(0.025)
        else:
            return handle
    handle.close()
    info = layout.read_server_info() or {}
    raise ServerError(
        f"a Ferry server is already running for workspace {layout.root} "
        f"(pid {info.get('pid', '?')}, {info.get('url', 'url unknown')}); "
        "use it, or stop it with `ferry server stop`.",
        details={"pid": info.get("pid"), "url": info.get("url")},
    )


def run_foreground(settings: Settings) -> None:
    """Serve the workspace in this process until SIGTERM/SIGINT."""
    import uvicorn

    from ferry.server import janitor
    from ferry.server.app import create_app

    layout = WorkspaceLayout(settings.resolved_workspace)
    layout.ensure()
    lock = _lock(layout)
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets accepted from a listener
    # whose proto is TCP, and without it every kept-alive response waits ~40 ms for a delayed ACK.
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    port = sock.getsockname()[1]
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    scheme = "https" if settings.ssl_certfile else "http"
    if not settings.binds_loopback:
        _warn_exposed(settings, f"{host}:{port}")
    app = create_app(settings)
    # Before serving, with the lock held: what a predecessor that was killed left behind.
    janitor.sweep(app.state.workspace)
    info = {
        "pid": os.getpid(),
        "url": f"{scheme}://{host}:{port}",
        "started_at": datetime.now(timezone.utc).isoformat(),
        "store": _mask(settings.resolved_store_url),
    }
    config = uvicorn.Config(
        app,
        log_level="info",
        access_log=False,
        lifespan="on",
        ssl_certfile=settings.ssl_certfile,
        ssl_keyfile=settings.ssl_keyfile,
    )
    server = uvicorn.Server(config)
    original_startup = server.startup

    async def startup(sockets: list[socket.socket] | None = None) -> None:
        await original_startup(sockets)
        # The ~120k objects of a started server (FastAPI, pydantic, SQLAlchemy) never die;
        # freezing them keeps full collections from walking them under load (bench/online
        # measured p99 at 64 connections fall from 61 ms to 6 ms).
        gc.collect()
        gc.freeze()
        # Published only once the socket accepts, so clients that see it can connect.
        tmp = layout.server_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(info), encoding="utf-8")
        tmp.replace(layout.server_file)

    server.startup = startup  # type: ignore[method-assign]
    try:
        server.run(sockets=[sock])
    finally:
        with contextlib.suppress(FileNotFoundError):
            if (layout.read_server_info() or {}).get("pid") == os.getpid():
                layout.server_file.unlink()
        lock.close()


def _warn_exposed(settings: Settings, address: str) -> None:
    """Say on stderr (the server log) that other machines can reach the server, and how."""
    if settings.ssl_certfile:
        text = (
            f"WARNING: Ferry listens on {address} over HTTPS, reachable from other machines; "
            "every control-plane call needs the workspace token and /metrics needs "
            "FERRY_METRICS_TOKEN (or the workspace token)."
        )
    else:
        text = (
            f"WARNING: Ferry listens on {address}, reachable from other machines, over plain "
            "HTTP: tokens, keys and data cross the network unencrypted. Set FERRY_SSL_CERTFILE "
            "and FERRY_SSL_KEYFILE, or put a TLS reverse proxy in front and set "
            "FERRY_HOST=127.0.0.1."
        )
    print(text, file=sys.stderr, flush=True)


def _mask(url: str) -> str:
    """Hide a password in a store URL."""
    if "://" in url and "@" in url.split("://", 1)[1]:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url
