"""Fixtures shared by the whole suite: workspaces, real background servers, PostgreSQL databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ferry.local_workspace.launcher import start_background, stop_server
from ferry.settings import Settings

pytest_plugins = ["tests.fixtures_services"]

SHARED = Path(__file__).resolve().parents[2] / "shared"
EXAMPLES = SHARED / "data" / "azureml-examples" / "cli" / "endpoints"
PG_ADMIN_URL = os.environ.get("FERRY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def examples() -> Path:
    """The shared azureml-examples data (used in place, never copied into the repo)."""
    if not EXAMPLES.is_dir():
        pytest.fail(f"shared test data missing at {EXAMPLES}; the repo expects ../shared beside it")
    return EXAMPLES


def _pg_database() -> Iterator[str]:
    import psycopg

    name = f"ferry_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the local server, dropped afterwards."""
    yield from _pg_database()


@pytest.fixture(scope="module")
def module_pg_url() -> Iterator[str]:
    yield from _pg_database()


def running_server(
    workspace: Path, store_url: str | None = None, **overrides: Any
) -> Iterator[Settings]:
    """Start a real background server for ``workspace``; stop it afterwards."""
    settings = Settings(workspace=workspace, store_url=store_url, **overrides)
    start_background(settings)
    try:
        yield settings
    finally:
        stop_server(settings)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One real server (SQLite store) per test module."""
    yield from running_server(tmp_path_factory.mktemp("ws"))
