"""Fixtures for the example projects under ``examples/``: worker-style argv, a real workspace."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from ferry import MLClient
from ferry.local_workspace.launcher import stop_server


@pytest.fixture
def script_argv(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line a batch worker gives the entry script (ParallelRunStep style)."""
    monkeypatch.setattr(sys, "argv", ["entry_script.py", "--logging_level", "debug"])


@pytest.fixture(scope="module")
def ml_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MLClient]:
    """An SDK client on a fresh local workspace (its server auto-started, stopped afterwards)."""
    client = MLClient(workspace=tmp_path_factory.mktemp("workspace"))
    try:
        yield client
    finally:
        client.close()
        stop_server(client.settings)
