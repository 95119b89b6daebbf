"""Schema revisions: create an empty store, upgrade an older one, refuse a newer one.

Migrations are Alembic scripts shipped inside the package (``migrations/``); no ``alembic.ini``
is read. The check and the upgrade run in one transaction that holds a lock (``BEGIN
IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), so several processes opening the same
store at once migrate it exactly once.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from ferry import __version__
from ferry.errors import StoreError
from ferry.store.engine import db_error_reason

__all__ = ["MIGRATIONS_DIR", "VERSION_TABLE", "current_revisions", "ensure_schema", "head_revision"]

#: Folder of the Alembic scripts that ship with this Ferry.
MIGRATIONS_DIR = Path(__file__).with_name("migrations")

#: Ferry's own version table, so a PostgreSQL database shared with other Alembic apps works.
VERSION_TABLE = "ferry_schema_version"

# Arbitrary constant key of the PostgreSQL advisory lock held while migrating ("FERY").
_PG_MIGRATION_LOCK = 0x46455259


def head_revision(script_location: Path = MIGRATIONS_DIR) -> str:
    """The newest schema revision the given migrations (by default this Ferry's) create."""
    head = ScriptDirectory(str(script_location)).get_current_head()
    if head is None:  # pragma: no cover - the package always ships a revision
        raise StoreError(f"no schema revisions found in {script_location}; reinstall Ferry")
    return head


def current_revisions(connection: Connection) -> tuple[str, ...]:
    """The revisions recorded in the store (empty when it has no Ferry schema yet)."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return tuple(context.get_current_heads())


def ensure_schema(
    engine: Engine,
    *,
    migrate: bool,
    display_url: str,
    script_location: Path = MIGRATIONS_DIR,
) -> None:
    """Bring the store's schema to the head revision, or explain why not.

    Args:
        engine: The store's engine. On SQLite it must emit ``BEGIN IMMEDIATE`` for connections
            with the ``ferry_write`` execution option (see :mod:`ferry.store.engine`).
        migrate: Upgrade a store that is on an older revision; when ``False`` such a store is
            refused. An empty store always gets the schema created.
        display_url: The store URL with its password masked, for messages.
        script_location: The Alembic scripts folder (tests pass a copy with extra revisions).

    Raises:
        StoreError: the store is older and ``migrate`` is off, newer than this Ferry, or the
            upgrade itself failed.
    """
    script = ScriptDirectory(str(script_location))
    head = head_revision(script_location)
    known = {rev.revision for rev in script.walk_revisions()}
    try:
        with engine.execution_options(ferry_write=True).begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
                )
            current = current_revisions(connection)
            if current == (head,):
                return
            newer = [rev for rev in current if rev not in known]
            if newer:
                raise StoreError(
                    f"the store at {display_url} is at schema revision {', '.join(newer)}, "
                    f"which is newer than this Ferry ({__version__}, schema revision {head}) "
                    "knows: it was written by a newer Ferry. Upgrade Ferry "
                    "(pip install -U ferry) to use this store.",
                    details={"store_revision": list(current), "ferry_revision": head},
                )
            if current and not migrate:
                raise StoreError(
                    f"the store at {display_url} is at schema revision {', '.join(current)}, "
                    f"this Ferry needs {head}; run `ferry server start` with migrations "
                    "enabled (or open_store(url, migrate=True)) to upgrade it.",
                    details={"store_revision": list(current), "ferry_revision": head},
                )
            config = Config()
            config.set_main_option("script_location", str(script_location))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise StoreError(
            f"could not create or upgrade the schema of the store at {display_url}: "
            f"{db_error_reason(exc)}",
        ) from exc
