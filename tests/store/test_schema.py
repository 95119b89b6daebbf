"""Schema creation, upgrade and refusal, and store URL handling."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from ferry.errors import StoreError
from ferry.specs.assets import AssetKind
from ferry.store import Store, open_store
from ferry.store.engine import create_store_engine
from ferry.store.schema import (
    MIGRATIONS_DIR,
    VERSION_TABLE,
    current_revisions,
    ensure_schema,
    head_revision,
)
from ferry.store.sql import SqlStore
from ferry.store.tables import Base

_EXTRA_REVISION = '''
"""Test-only revision: a newer schema than the one Ferry ships."""

import sqlalchemy as sa
from alembic import op

revision = "0002_test"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("secrets", sa.Column("note", sa.String(50), nullable=True))


def downgrade() -> None:
    op.drop_column("secrets", "note")
'''


def _sql_store(store: Store) -> SqlStore:
    assert isinstance(store, SqlStore)
    return store


def test_an_empty_database_gets_the_schema(store_url: str) -> None:
    store = _sql_store(open_store(store_url, migrate=False))
    try:
        tables = set(inspect(store.engine).get_table_names())
        assert {"asset_versions", "named_resources", "secrets", VERSION_TABLE} <= tables
        with store.engine.connect() as connection:
            assert current_revisions(connection) == (head_revision(),)
    finally:
        store.close()


def test_the_tables_match_the_migrations(store: Store) -> None:
    engine = _sql_store(store).engine
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        assert compare_metadata(context, Base.metadata) == []


def test_concurrent_opens_of_an_empty_database_migrate_once(store_url: str) -> None:
    threads = 4
    start = threading.Barrier(threads)
    stores: list[Store] = []
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            start.wait()
            stores.append(open_store(store_url))
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=opener) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for store in stores:
        store.close()
    assert errors == []


def test_an_older_schema_is_upgraded_or_refused(store_url: str, tmp_path: Path) -> None:
    store = open_store(store_url)
    try:
        created, _ = store.assets.create(AssetKind.MODEL, "m", None, {"path": "p"}, None)
    finally:
        store.close()
    # A newer Ferry: the shipped migrations plus one more revision.
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    head = head_revision()
    (scripts / "versions" / "0002_test.py").write_text(_EXTRA_REVISION.format(head=head))

    engine, display_url = create_store_engine(store_url)
    try:
        with pytest.raises(StoreError) as caught:
            ensure_schema(engine, migrate=False, display_url=display_url, script_location=scripts)
        assert caught.value.message == (
            f"the store at {display_url} is at schema revision {head}, this Ferry needs "
            "0002_test; run `ferry server start` with migrations enabled (or "
            "open_store(url, migrate=True)) to upgrade it."
        )
        ensure_schema(engine, migrate=True, display_url=display_url, script_location=scripts)
        with engine.connect() as connection:
            assert current_revisions(connection) == ("0002_test",)
        columns = {column["name"] for column in inspect(engine).get_columns("secrets")}
        assert "note" in columns
        upgraded = SqlStore(engine, display_url)
        assert upgraded.assets.get(AssetKind.MODEL, "m", "1") == created
    finally:
        engine.dispose()


def test_a_newer_schema_is_refused(store_url: str) -> None:
    store = _sql_store(open_store(store_url))
    try:
        with store.engine.begin() as connection:
            connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '0999_future'"))
    finally:
        store.close()
    with pytest.raises(StoreError) as caught:
        open_store(store_url)
    message = caught.value.message
    assert "is at schema revision 0999_future, which is newer than this Ferry" in message
    assert f"schema revision {head_revision()})" in message
    assert message.endswith("Upgrade Ferry (pip install -U ferry) to use this store.")


def test_store_urls_never_show_the_password() -> None:
    with pytest.raises(StoreError) as caught:
        open_store("postgresql://ferry:hunter2@127.0.0.1:1/ferry")
    assert "hunter2" not in caught.value.message
    assert caught.value.message.startswith(
        "cannot open the store at postgresql://ferry:***@127.0.0.1:1/ferry: "
    )
    with pytest.raises(StoreError) as caught:
        open_store("mysql://ferry:hunter2@db/ferry")
    assert caught.value.message == (
        "unsupported store URL scheme 'mysql' in mysql://ferry:***@db/ferry; use "
        "sqlite:///path/to/ferry.db or postgresql://user:password@host:5432/database"
    )


def test_in_memory_sqlite_is_refused() -> None:
    with pytest.raises(StoreError, match="in-memory SQLite"):
        open_store("sqlite://")
