"""Ferry's metadata store. ``open_store(url)`` picks the implementation by URL scheme.

``sqlite:///path/to/ferry.db`` is the local default; ``postgresql://user:password@host/db``
serves teams. Both run the same :class:`~ferry.store.sql.SqlStore` over SQLAlchemy 2, with
the schema managed by the Alembic migrations that ship in ``ferry/store/migrations``.
"""

from __future__ import annotations

from ferry.store.base import (
    AssetRecord,
    AssetRepository,
    DeploymentRecord,
    DeploymentRepository,
    EndpointKind,
    EndpointRecord,
    EndpointRepository,
    JobRecord,
    JobRepository,
    NamedRecord,
    NamedRepository,
    Page,
    SecretRecord,
    SecretRepository,
    Store,
)
from ferry.store.engine import create_store_engine, mask_url
from ferry.store.schema import ensure_schema
from ferry.store.sql import SqlStore

__all__ = [
    "AssetRecord",
    "AssetRepository",
    "DeploymentRecord",
    "DeploymentRepository",
    "EndpointKind",
    "EndpointRecord",
    "EndpointRepository",
    "JobRecord",
    "JobRepository",
    "NamedRecord",
    "NamedRepository",
    "Page",
    "SecretRecord",
    "SecretRepository",
    "SqlStore",
    "Store",
    "mask_url",
    "open_store",
]


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the metadata store at ``url``, creating or upgrading its schema as needed.

    Args:
        url: ``sqlite:///path/to/ferry.db`` (parent folders are created) or
            ``postgresql://user:password@host:5432/database`` (driven by psycopg 3).
        migrate: Upgrade a store on an older schema revision. When ``False`` such a store is
            refused with a :class:`~ferry.errors.StoreError`. An empty database always gets
            the schema created.

    Returns:
        The store; call :meth:`~ferry.store.base.Store.close` when done with it.

    Raises:
        StoreError: the URL is unsupported, the database is unreachable, or its schema is
            older (with ``migrate=False``) or newer than this Ferry. Messages never contain
            the URL's password.
    """
    engine, display_url = create_store_engine(url)
    try:
        ensure_schema(engine, migrate=migrate, display_url=display_url)
    except BaseException:
        engine.dispose()
        raise
    return SqlStore(engine, display_url)
