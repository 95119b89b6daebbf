"""Fixtures of the store contract suite: every test runs on SQLite and on PostgreSQL.

PostgreSQL tests get a fresh, randomly named schema (selected through ``search_path`` in the
connection options) that is dropped afterwards, so they can run repeatedly, in any order and
next to other sessions on the same database. Point them elsewhere with
``FERRY_TEST_POSTGRES_URL`` (tests/postgres.py); deselect them with
``-m "not postgres"``; an unreachable server fails them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferry.store import Store, open_store
from tests.postgres import POSTGRES_URL, postgres_admin


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty store, once per implementation."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'workspace' / 'ferry.db'}"
        return
    schema = f"ferry_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin() as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with postgres_admin() as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open store with the current schema, closed after the test."""
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()
