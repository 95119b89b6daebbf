"""Auth before the body: a real server refuses big bodies without reading them into memory.

The clients here are raw sockets: the server answers and closes while they are still sending,
and they must read that answer rather than fail on the reset.
"""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from ferry.local_workspace.launcher import server_status
from ferry.local_workspace.layout import WorkspaceLayout
from ferry.settings import Settings
from tests.conftest import running_server

BIG = 300 * 1024 * 1024
CHUNK = 1024 * 1024
RSS_GROWTH_LIMIT = 50 * 1024 * 1024


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    sent: int  # body bytes the client got out before the server answered or hung up


@dataclass
class Live:
    url: str
    token: str
    pid: int


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    for settings in running_server(tmp_path_factory.mktemp("gate")):
        info = server_status(settings)
        assert info is not None
        token = WorkspaceLayout(settings.resolved_workspace).read_token()
        assert token is not None
        yield Live(info["url"], token, int(info["pid"]))


def send_big(
    url: str, path: str, headers: dict[str, str], *, total: int = BIG, chunked: bool = False
) -> Answer:
    """POST ``total`` bytes, stopping as soon as the server answers or closes the connection."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=120) as sock:
        lines = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        piece = b" " * CHUNK
        framed = f"{CHUNK:x}\r\n".encode() + piece + b"\r\n" if chunked else piece
        sent = 0
        try:
            while sent < total and not select.select([sock], [], [], 0)[0]:
                sock.sendall(framed)
                sent += CHUNK
            if chunked and sent >= total:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and hung up; the answer is still in our receive buffer
        return Answer(*_read_response(sock), sent)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    data = b""
    try:
        while True:
            head, sep, rest = data.partition(b"\r\n\r\n")
            if sep:
                fields = dict(
                    line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line
                )
                length = int(fields.get(b"content-length", b"0").strip() or 0)
                if len(rest) >= length:
                    return int(head.split()[1]), json.loads(rest[:length])
            more = sock.recv(65536)
            if not more:
                break
            data += more
    except ConnectionResetError:
        pass
    raise AssertionError(f"no complete HTTP response before the connection ended: {data[:300]!r}")


def rss(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_unauthenticated_big_body_is_401_before_it_is_read(live: Live) -> None:
    answer = send_big(live.url, "/api/v1/batch-endpoints", {"Content-Type": "text/plain"})
    assert answer.status == 401
    assert answer.body["code"] == "unauthorized"
    assert "send 'Authorization: Bearer <token>'" in answer.body["message"]
    assert answer.sent < BIG // 2  # refused at the headers: most of the body never left


def test_wrong_token_is_401_before_the_body(live: Live) -> None:
    headers = {"Authorization": "Bearer nope", "Content-Type": "application/json"}
    answer = send_big(live.url, "/api/v1/batch-endpoints", headers)
    assert answer.status == 401
    assert "the token is wrong for this workspace" in answer.body["message"]
    assert answer.sent < BIG // 2


def test_big_json_body_is_413_naming_the_setting(live: Live) -> None:
    headers = {"Authorization": f"Bearer {live.token}", "Content-Type": "application/json"}
    declared = send_big(live.url, "/api/v1/batch-endpoints", headers)
    assert declared.status == 413
    assert declared.body["code"] == "payload_too_large"
    assert "limit of 8388608 bytes; raise FERRY_MAX_JSON_BYTES" in declared.body["message"]
    streamed = send_big(live.url, "/api/v1/batch-endpoints", headers, chunked=True)
    assert streamed.status == 413
    assert "raise FERRY_MAX_JSON_BYTES" in streamed.body["message"]
    assert streamed.sent < BIG // 2  # read up to the limit, then the server hung up


def test_server_memory_stays_flat_under_big_bodies(live: Live) -> None:
    auth = {"Authorization": f"Bearer {live.token}", "Content-Type": "application/json"}
    calls: list[tuple[dict[str, str], bool]] = [
        ({"Content-Type": "application/json"}, False),
        ({"Content-Type": "text/plain"}, True),
        ({"Content-Type": "application/json"}, True),
        (auth, False),
        (auth, True),
        (auth, True),
    ]
    before = rss(live.pid)
    # Reset the peak (VmHWM) so it measures these requests only, however briefly they peak.
    Path(f"/proc/{live.pid}/clear_refs").write_text("5")
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [
            pool.submit(send_big, live.url, "/api/v1/batch-endpoints", h, chunked=c)
            for h, c in calls
        ]
        answers = [f.result() for f in futures]
    peak = rss(live.pid, "VmHWM")
    after = rss(live.pid)
    print(f"server RSS before {before >> 20} MiB, peak {peak >> 20} MiB, after {after >> 20} MiB")
    assert peak - before < RSS_GROWTH_LIMIT
    assert after - before < RSS_GROWTH_LIMIT
    assert [a.status for a in answers] == [401, 401, 401, 413, 413, 413]
    # And it still serves.
    health = httpx.get(f"{live.url}/api/v1/health")
    assert health.json()["status"] == "ok"


def test_unauthenticated_big_scoring_request_is_401_before_it_is_read(live: Live) -> None:
    api = httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {live.token}"})
    with api:
        spec = {"name": "gate-ep", "auth_mode": "key"}
        assert api.post("/api/v1/online-endpoints", json=spec).status_code in (200, 201)
    answer = send_big(live.url, "/endpoints/gate-ep/score", {"Content-Type": "application/json"})
    assert answer.status == 401
    assert "missing or wrong key" in answer.body["message"]
    assert answer.sent < BIG // 2


def test_settings_keep_the_old_body_limit_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FERRY_MAX_UPLOAD_BYTES", raising=False)
    monkeypatch.setenv("FERRY_MAX_BODY_BYTES", "1234")
    assert Settings().max_upload_bytes == 1234
    monkeypatch.setenv("FERRY_MAX_UPLOAD_BYTES", "5678")
    assert Settings().max_upload_bytes == 5678
    assert Settings(max_upload_bytes=9).max_upload_bytes == 9


def test_big_upload_is_spooled_to_disk_not_memory(live: Live) -> None:
    boundary = "ferrybigupload"
    spec = json.dumps({"name": "big-upload", "path": "model"})

    def multipart() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="spec"\r\n\r\n{spec}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="archive"; '
            'filename="m.tar.gz"\r\nContent-Type: application/gzip\r\n\r\n'
        ).encode()
        for _ in range(BIG // CHUNK):
            yield bytes(CHUNK)  # not gzip: the upload is refused after it has been received
        yield f"\r\n--{boundary}--\r\n".encode()

    before = rss(live.pid)
    Path(f"/proc/{live.pid}/clear_refs").write_text("5")
    headers = {
        "Authorization": f"Bearer {live.token}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    response = httpx.post(
        f"{live.url}/api/v1/models", content=multipart(), headers=headers, timeout=300
    )
    peak = rss(live.pid, "VmHWM")
    print(f"upload: server RSS before {before >> 20} MiB, peak {peak >> 20} MiB")
    assert peak - before < RSS_GROWTH_LIMIT
    assert response.status_code == 400, response.text
