"""A real server with a batch endpoint whose deployments run in the server's interpreter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ferry import MLClient
from ferry.local_workspace.launcher import stop_server
from ferry.settings import Settings


@pytest.fixture(scope="module")
def ml_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MLClient]:
    settings = Settings(workspace=tmp_path_factory.mktemp("batch"))
    client = MLClient(settings=settings)
    yield client
    client.close()
    stop_server(settings)


def write_script(folder: Path, body: str, name: str = "driver.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(body, encoding="utf-8")
    return folder


def make_inputs(folder: Path, count: int, suffix: str = ".txt") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"item-{i:05d}{suffix}").write_text(str(i), encoding="utf-8")
    return folder
