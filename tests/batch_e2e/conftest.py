"""A real server with a batch endpoint whose deployments run in the server's interpreter."""

from __future__ import annotations

from pathlib import Path


def write_script(folder: Path, body: str, name: str = "driver.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(body, encoding="utf-8")
    return folder


def make_inputs(folder: Path, count: int, suffix: str = ".txt") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"item-{i:05d}{suffix}").write_text(str(i), encoding="utf-8")
    return folder
