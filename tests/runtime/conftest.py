"""Real worker processes talking to a tiny in-test socket server built on ferry.runtime.frames.

The "user environment" is this interpreter unless FERRY_TEST_USER_PYTHON names another one (for
example a Python 3.9 virtualenv without werkzeug, to check the runtime there).
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ferry.runtime.frames import recv_frame, send_frame
from ferry.runtime.launch import worker_command, worker_env

START_TIMEOUT = 60.0
USER_PYTHON = os.environ.get("FERRY_TEST_USER_PYTHON") or sys.executable


@functools.cache
def _user_env_has(module: str) -> bool:
    probe = subprocess.run([USER_PYTHON, "-c", f"import {module}"], capture_output=True, timeout=60)
    return probe.returncode == 0


@pytest.fixture
def need_in_user_env() -> Any:
    """Fail the test, saying what to install, when the user environment lacks the module."""

    def check(module: str) -> None:
        if not _user_env_has(module):
            pytest.fail(
                f"{module} is not installed in the user environment {USER_PYTHON}: "
                "`make venv` installs the dev extra"
            )

    return check


class Worker:
    """One worker subprocess and the server side of its socket."""

    def __init__(self, proc: subprocess.Popen[bytes], conn: socket.socket, log: Path) -> None:
        self.proc = proc
        self.conn = conn
        self.log = log
        self.first, _ = recv_frame(conn)  # ready or init_failed
        self._ids = itertools.count(1)

    def request(self, header: dict[str, Any], body: bytes = b"") -> tuple[dict[str, Any], bytes]:
        """Send one request and return the worker's reply; checks that the id is echoed."""
        req_id = next(self._ids)
        send_frame(self.conn, {**header, "id": req_id}, body)
        reply, reply_body = recv_frame(self.conn)
        assert reply.get("id") == req_id, reply
        return reply, reply_body

    def shutdown(self) -> int:
        """Ask the worker to stop and return its exit code."""
        send_frame(self.conn, {"kind": "shutdown"})
        return self.wait()

    def wait(self) -> int:
        code = self.proc.wait(timeout=30)
        self.conn.close()
        return code

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


class WorkerFactory:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        # AF_UNIX paths are limited to ~100 bytes; pytest's tmp_path can be longer.
        self.sock_dir = Path(tempfile.mkdtemp(prefix="ferry-rt-"))
        self.workers: list[Worker] = []
        self._n = 0

    def script(self, source: str, name: str = "score.py", folder: str = "code") -> Path:
        code = self.tmp_path / folder
        code.mkdir(exist_ok=True)
        path = code / name
        path.write_text(textwrap.dedent(source))
        return path

    def start(
        self,
        script: Path,
        mode: str = "online",
        user_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        python_prefix: list[str] | None = None,
        tcp: bool = False,
        logging_level: str = "DEBUG",
    ) -> Worker:
        self._n += 1
        if tcp:
            server = socket.create_server(("127.0.0.1", 0))
            address = f"127.0.0.1:{server.getsockname()[1]}"
        else:
            address = str(self.sock_dir / f"w{self._n}.sock")
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(address)
            server.listen(1)
        server.settimeout(START_TIMEOUT)
        argv = worker_command(
            USER_PYTHON,
            connect=address,
            mode=mode,
            entry_script=str(script),
            worker_id=f"worker-{self._n}",
            logging_level=logging_level,
            user_args=user_args,
        )
        if python_prefix is not None:
            argv = [USER_PYTHON, *python_prefix, *argv[3:]]
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AZUREML_", "FERRY_"))}
        log = self.tmp_path / f"worker-{self._n}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv,
                env=worker_env(base, env or {}),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.tmp_path,
            )
        try:
            conn, _ = server.accept()
        except TimeoutError:
            proc.kill()
            raise AssertionError(f"worker never connected:\n{log.read_text()}") from None
        finally:
            server.close()
        conn.settimeout(START_TIMEOUT)
        worker = Worker(proc, conn, log)
        self.workers.append(worker)
        return worker

    def close(self) -> None:
        for w in self.workers:
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()
            w.conn.close()
        shutil.rmtree(self.sock_dir, ignore_errors=True)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[WorkerFactory]:
    factory = WorkerFactory(tmp_path)
    yield factory
    factory.close()


def _multipart(
    fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]
) -> tuple[str, bytes]:
    """Encode a multipart/form-data body; returns (content type, body)."""
    boundary = "ferryTestBoundary7MA4YWxkTrZu0gW"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for name, (filename, data, ctype) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'
        )
        parts.append(head.encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


@pytest.fixture
def encode_multipart() -> Any:
    """Multipart encoder: (fields, {name: (filename, data, type)}) -> (content type, body)."""
    return _multipart
