"""Fixtures for the example projects under ``examples/``: worker-style argv, a real workspace."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture
def script_argv(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line a batch worker gives the entry script (ParallelRunStep style)."""
    monkeypatch.setattr(sys, "argv", ["entry_script.py", "--logging_level", "debug"])
