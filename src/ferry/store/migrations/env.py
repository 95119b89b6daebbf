"""Alembic environment of Ferry's store.

Ferry runs migrations itself (``ferry.store.schema.ensure_schema``) on a connection it has
already opened and locked, passed in ``config.attributes["connection"]``; there is no
``alembic.ini``. To write a new revision, autogenerate it against a scratch database::

    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "src/ferry/store/migrations")
    config.set_main_option("sqlalchemy.url", "sqlite:///scratch.db")
    command.upgrade(config, "head")
    command.revision(config, "what changed", autogenerate=True)

Then review it: revisions must spell out their column types (not import tables.py), so they
never change after release.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from ferry.store.schema import VERSION_TABLE
from ferry.store.tables import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    if context.is_offline_mode():
        context.configure(
            url=context.config.get_main_option("sqlalchemy.url"),
            target_metadata=Base.metadata,
            version_table=VERSION_TABLE,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url or pass a connection in config.attributes")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


_main()
