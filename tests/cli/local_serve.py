"""``ferry online-deployment serve`` as a real process on a free port, for the local-debug tests."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_URL = re.compile(r"at (http://127\.0\.0\.1:\d+)/score")


@dataclass
class Served:
    """A running ``serve`` command: its base URL and what it printed so far."""

    proc: subprocess.Popen[str]
    url: str
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def request(
        self, path: str, body: bytes | None = None, content_type: str = "application/json"
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of one request; POST when ``body`` is given."""
        req = urllib.request.Request(self.url + path, data=body, method="POST" if body else "GET")
        if body is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def score(self, payload: Any) -> tuple[int, Any]:
        status, _, body = self.request("/score", json.dumps(payload).encode())
        return status, json.loads(body)

    def wait_for_output(self, text: str, times: int = 1, deadline_s: float = 60.0) -> None:
        """Wait until ``text`` is in ``times`` lines of stdout (a bound against hangs, not a
        timing check)."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if sum(text in line for line in self.stdout) >= times:
                return
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never printed; stdout: {self.stdout} stderr: {self.stderr}")


def _pump(stream: Any, sink: list[str], lines: queue.Queue[str] | None) -> None:
    for line in stream:
        sink.append(line)
        if lines is not None:
            lines.put(line)


@contextmanager
def serve(
    env: dict[str, str], *args: str | Path, cwd: Path, debugger: str | None = None
) -> Iterator[Served]:
    """Start ``ferry online-deployment serve --port 0 *args`` and yield once it listens.

    ``debugger``: run it under ``python -m pdb``, with these first commands on its stdin (the
    test writes more with ``served.proc.stdin``).
    """
    pdb = ["-m", "pdb"] if debugger is not None else []
    command = [sys.executable, *pdb, "-m", "ferry.cli.main", "online-deployment", "serve"]
    command += ["--port", "0", *(str(a) for a in args)]
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.PIPE if debugger is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out: list[str] = []
    err: list[str] = []
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None and proc.stderr is not None
    if debugger is not None:
        assert proc.stdin is not None
        proc.stdin.write(debugger)
        proc.stdin.flush()
    threading.Thread(target=_pump, args=(proc.stdout, out, lines), daemon=True).start()
    threading.Thread(target=_pump, args=(proc.stderr, err, None), daemon=True).start()
    try:
        url = None
        end = time.monotonic() + 120  # a bound against hangs, not a timing check
        while url is None:
            try:
                match = _URL.search(lines.get(timeout=0.5))
                url = match.group(1) if match else None
            except queue.Empty:
                if proc.poll() is not None or time.monotonic() > end:
                    time.sleep(0.2)  # let the pump threads take the last lines
                    raise AssertionError(
                        f"serve exited {proc.returncode} before listening; stderr: {''.join(err)}"
                    ) from None
        yield Served(proc, url, out, err)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def clean_env(workspace: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    env["FERRY_WORKSPACE"] = str(workspace)
    return env
