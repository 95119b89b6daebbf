"""Uploads are capped by what they unpack to: a zip bomb or a million empty files is a 413.

A real server runs with low caps; archives go through the HTTP API as the SDK sends them.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ferry.local_workspace.launcher import server_status
from ferry.local_workspace.layout import WorkspaceLayout
from ferry.settings import Settings
from tests.conftest import running_server

MAX_BYTES = 1024 * 1024
MAX_FILES = 50


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Path]]:
    workspace = tmp_path_factory.mktemp("capped")
    for settings in running_server(
        workspace, max_unpacked_bytes=MAX_BYTES, max_unpacked_files=MAX_FILES
    ):
        info = server_status(settings)
        assert info is not None
        layout = WorkspaceLayout(settings.resolved_workspace)
        headers = {"Authorization": f"Bearer {layout.read_token()}"}
        with httpx.Client(base_url=info["url"], headers=headers, timeout=60) as api:
            yield api, settings.resolved_workspace


def _archive(*members: tuple[str, int]) -> bytes:
    """A tar.gz of files named ``name`` holding ``size`` zero bytes, under one top folder."""
    out = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        folder = tarfile.TarInfo("model")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, size in members:
            info = tarfile.TarInfo(f"model/{name}")
            info.size = size
            tar.addfile(info, _Zeros(size))
    return out.getvalue()


class _Zeros(io.RawIOBase):
    """``size`` zero bytes, produced as they are read (the bomb never sits in memory)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def _post(api: httpx.Client, name: str, archive: bytes) -> httpx.Response:
    return api.post(
        "/api/v1/models",
        data={"spec": json.dumps({"name": name, "path": "model"})},
        files={"archive": ("model.tar.gz", archive, "application/gzip")},
    )


def _leftovers(workspace: Path) -> list[str]:
    layout = WorkspaceLayout(workspace)
    found = [p for p in layout.blobstore.rglob("*") if p.is_file()]
    found += [p for p in layout.tmp.rglob("*")]
    return [str(p) for p in found]


def test_a_compression_bomb_is_refused_naming_the_setting(
    capped: tuple[httpx.Client, Path],
) -> None:
    api, workspace = capped
    bomb = _archive(("zeros.bin", 8 * MAX_BYTES))
    assert len(bomb) < MAX_BYTES // 20  # kilobytes on the wire
    response = _post(api, "bomb", bomb)
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["code"] == "payload_too_large"
    assert f"unpacks to more than {MAX_BYTES} bytes" in body["message"]
    assert "FERRY_MAX_UNPACKED_BYTES" in body["message"]
    assert _leftovers(workspace) == []
    assert api.get("/api/v1/models/bomb").status_code == 404


def test_too_many_files_are_refused_naming_the_setting(
    capped: tuple[httpx.Client, Path],
) -> None:
    api, workspace = capped
    many = _archive(*((f"f{i:04d}", 0) for i in range(2 * MAX_FILES)))
    response = _post(api, "many", many)
    assert response.status_code == 413, response.text
    body = response.json()
    assert f"more than {MAX_FILES} files and folders" in body["message"]
    assert "FERRY_MAX_UNPACKED_FILES" in body["message"]
    assert _leftovers(workspace) == []


def test_an_archive_under_both_caps_is_stored(capped: tuple[httpx.Client, Path]) -> None:
    api, _ = capped
    response = _post(api, "fits", _archive(*((f"f{i}", 1000) for i in range(MAX_FILES - 1))))
    assert response.status_code == 201, response.text


def test_the_defaults_are_generous_and_settable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().max_unpacked_bytes == 10 * 1024**3
    assert Settings().max_unpacked_files == 100_000
    monkeypatch.setenv("FERRY_MAX_UNPACKED_FILES", "7")
    assert Settings().max_unpacked_files == 7
