"""Fixtures shared by the whole suite: workspaces, real background servers, PostgreSQL databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ferry import MLClient
from ferry.local_workspace.launcher import start_background, stop_server
from ferry.settings import Settings
from tests.postgres import POSTGRES_URL, postgres_admin

pytest_plugins = ["tests.fixtures_services"]

SHARED = Path(__file__).resolve().parents[2] / "shared"
EXAMPLES = SHARED / "data" / "azureml-examples" / "cli" / "endpoints"


#: Both stores, for a module's ``ML_CLIENT_STORES``.
STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    stores = getattr(metafunc.module, "ML_CLIENT_STORES", None)
    if stores and "ml_client" in metafunc.fixturenames:
        metafunc.parametrize("ml_client", stores, indirect=True, scope="module")


@pytest.fixture(scope="session")
def examples() -> Path:
    """The shared azureml-examples data (used in place, never copied into the repo)."""
    if not EXAMPLES.is_dir():
        pytest.fail(f"shared test data missing at {EXAMPLES}; the repo expects ../shared beside it")
    return EXAMPLES


def _pg_database() -> Iterator[str]:
    name = f"ferry_test_{uuid.uuid4().hex[:10]}"
    with postgres_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with postgres_admin() as conn:
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
def ml_client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MLClient]:
    """The suite's one SDK client: a fresh local workspace per test module, its server
    auto-started as a real background process on first use and stopped afterwards.

    On SQLite by default; a module that sets ``ML_CLIENT_STORES = STORES`` runs its tests that
    use it on both stores (:func:`pytest_generate_tests`).
    """
    cleanup = _pg_database() if getattr(request, "param", "sqlite") == "postgres" else None
    store_url = next(cleanup) if cleanup is not None else None
    settings = Settings(workspace=tmp_path_factory.mktemp("workspace"), store_url=store_url)
    client = MLClient(settings=settings)
    try:
        yield client
    finally:
        client.close()
        stop_server(settings)
        if cleanup is not None:
            next(cleanup, None)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One real server (SQLite store) per test module."""
    yield from running_server(tmp_path_factory.mktemp("ws"))
