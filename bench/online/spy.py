"""Sample a server process with py-spy while load runs, and summarise where its time goes.

``py-spy record --nonblocking --format raw`` writes collapsed stacks (``frame;frame;... count``).
Two ways to tell a busy sample from an idle one, each right for one kind of process:

* the gateway, ``--gil``: only samples where the thread held the GIL. Its loop releases it in
  epoll, and a thread woken but still queued for a core has not taken it back, so on this
  shared machine the samples follow its CPU time. C code that keeps the GIL (uvloop's socket
  writes, httptools, json) counts at the Python line that called it.
* a replica, py-spy's default "not idle" test: torch and the socket calls release the GIL, so
  ``--gil`` would drop the forward pass. The price: a replica woken from ``recv`` and queued for
  a core counts as busy in ``_recv_exactly``.

The CPU seconds from /proc, reported next to each profile, are exact.
"""

from __future__ import annotations

import collections
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["start", "summarise"]


def start(
    pid: int, seconds: float, out: Path, *, gil: bool, rate: int = 250
) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` for ``seconds``; wait on the returned process for the file."""
    exe = Path(sys.executable).with_name("py-spy")
    argv = [str(exe), "record", "-p", str(pid), "-d", f"{seconds:g}", "-r", str(rate)]
    argv += ["--nonblocking", "--format", "raw", "-o", str(out), *(["--gil"] if gil else [])]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


# The frames that start the process and run the event loop: every busy sample of the main
# thread passes through them, so their inclusive share says nothing.
_ENTRY = (
    "_run_module_as_main ",
    "_run_code ",
    "<module> ",
    "main ",
    "run_foreground ",
    "Server.run ",
    "asyncio_run ",
    "Runner.run ",
)


# Self time is grouped into these layers (first match on the frame's file wins).
LAYERS = (
    ("HTTP/1.1 server: uvicorn's httptools protocol, ProxyHeaders", ("uvicorn/",)),
    ("event loop and socket I/O in C (uvloop, shown as Runner.run)", ("asyncio/runners.py",)),
    ("FastAPI/Starlette wrappers around the gateway", ("fastapi/", "starlette/")),
    ("ferry gateway.py (auth, admission, response)", ("ferry/online/gateway.py",)),
    (
        "ferry pool, batcher, work, replica, routing, keys",
        (
            "ferry/online/pool.py",
            "ferry/online/batcher.py",
            "ferry/online/work.py",
            "ferry/online/replica.py",
            "ferry/online/routing.py",
            "ferry/services/endpoint_keys.py",
        ),
    ),
    ("frames to and from replicas (online/channel.py)", ("ferry/online/channel.py",)),
    ("frames to and from the gateway (runtime/frames.py)", ("ferry/runtime/frames.py",)),
    ("ferry metrics.py", ("ferry/online/metrics.py",)),
    ("replica runtime (worker, online, wsgi)", ("ferry/runtime/",)),
    ("json (frame headers, request and answer bodies)", ("json/",)),
    ("uuid4 for x-request-id", ("uuid.py",)),
    ("torch", ("torch/",)),
    ("score.py", ("score.py",)),
)


def _layer(frame: str) -> str:
    where = _module(frame)
    for label, prefixes in LAYERS:
        if where.startswith(prefixes):
            return label
    return "other"


def _short(frame: str) -> str:
    """``fn (path/to/mod.py:12)``; a frame py-spy could not name becomes ``(unnamed)``."""
    return frame.strip() or "(unnamed)"


def _module(frame: str) -> str:
    """The file of a frame, e.g. ``ferry/online/gateway.py`` (or ``native`` when unknown)."""
    if "(" not in frame:
        return "native"
    where = frame.rsplit("(", 1)[1].rstrip(")")
    return where.rsplit(":", 1)[0]


def summarise(raw: Path, top: int = 18) -> dict[str, Any]:
    """Self and inclusive shares per function, self share per file."""
    self_fn: collections.Counter[str] = collections.Counter()
    incl_fn: collections.Counter[str] = collections.Counter()
    self_file: collections.Counter[str] = collections.Counter()
    self_layer: collections.Counter[str] = collections.Counter()
    total = 0
    if not raw.exists():
        return {"samples": 0, "error": f"{raw} was not written"}
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_short(f) for f in stack.split(";")]
        self_fn[frames[-1]] += n
        self_file[_module(frames[-1])] += n
        self_layer[_layer(frames[-1])] += n
        for frame in set(frames):
            incl_fn[frame] += n

    def share(counter: collections.Counter[str], k: int) -> list[tuple[str, float]]:
        return [(name, n / total) for name, n in counter.most_common(k)] if total else []

    inclusive = [(f, s) for f, s in share(incl_fn, top * 4) if not f.startswith(_ENTRY)][:top]
    return {
        "samples": total,
        "self": share(self_fn, top),
        "inclusive": inclusive,
        "self_by_file": share(self_file, top),
        "self_by_layer": share(self_layer, len(LAYERS) + 1),
    }
