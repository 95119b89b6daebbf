"""The SQL store: SQLAlchemy 2 over SQLite (default) or PostgreSQL (teams).

Open it with :func:`ferry.store.open_store`, which also creates or upgrades the schema.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ferry.errors import InvalidInputError, NotFoundError
from ferry.store.base import (
    NamedRecord,
    NamedRepository,
    Page,
    SecretRecord,
    SecretRepository,
    Store,
)
from ferry.store.paging import check_limit, decode_token, encode_token
from ferry.store.sql_assets import SqlAssetRepository
from ferry.store.sql_endpoints import SqlDeploymentRepository, SqlEndpointRepository
from ferry.store.sql_jobs import SqlJobRepository
from ferry.store.tables import NamedResourceRow, SecretRow, json_document, utcnow
from ferry.store.transactions import Transactions

__all__ = ["SqlAssetRepository", "SqlNamedRepository", "SqlSecretRepository", "SqlStore"]


class SqlStore(Store):
    """The metadata store over one SQLAlchemy engine, whose schema must be current.

    Args:
        engine: From :func:`ferry.store.engine.create_store_engine`; the store owns it and
            disposes of it in :meth:`close`.
        display_url: The store URL with its password masked, for messages.
    """

    def __init__(self, engine: Engine, display_url: str) -> None:
        self.engine = engine
        self.url = display_url
        transactions = Transactions(engine, display_url)
        self.assets: SqlAssetRepository = SqlAssetRepository(transactions)
        self.resources: SqlNamedRepository = SqlNamedRepository(transactions)
        self.secrets: SqlSecretRepository = SqlSecretRepository(transactions)
        self.jobs: SqlJobRepository = SqlJobRepository(transactions)
        self.endpoints: SqlEndpointRepository = SqlEndpointRepository(transactions)
        self.deployments: SqlDeploymentRepository = SqlDeploymentRepository(transactions)

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"SqlStore({self.url!r})"


class SqlNamedRepository(NamedRepository):
    """:class:`NamedRepository` over the ``named_resources`` table."""

    def __init__(self, transactions: Transactions) -> None:
        self._tx = transactions

    def put(self, kind: str, name: str, spec: dict[str, Any]) -> tuple[NamedRecord, bool]:
        document = json_document(spec, f"the spec of {kind} {name!r}")

        def work(session: Session) -> tuple[NamedRecord, bool]:
            now = utcnow()
            row = session.get(NamedResourceRow, (kind, name))
            if row is not None:
                row.spec = document
                row.updated_at = now
                return _named_record(row), False
            row = NamedResourceRow(
                kind=kind, name=name, spec=document, created_at=now, updated_at=now
            )
            session.add(row)
            session.flush()  # a concurrent put of the same new name retries as an update
            return _named_record(row), True

        return self._tx.write(work, doing=f"saving {kind} {name!r}")

    def get(self, kind: str, name: str) -> NamedRecord:
        def work(session: Session) -> NamedRecord:
            row = session.get(NamedResourceRow, (kind, name))
            if row is None:
                raise _no_such_resource(kind, name)
            return _named_record(row)

        return self._tx.read(work, doing=f"reading {kind} {name!r}")

    def list(self, kind: str, *, limit: int = 100, page_token: str | None = None) -> Page:
        check_limit(limit)
        scope = f"named:{kind}"
        after = decode_token(page_token, scope, str)
        query = (
            select(NamedResourceRow)
            .where(NamedResourceRow.kind == kind)
            .order_by(NamedResourceRow.name)
            .limit(limit + 1)
        )
        if after is not None:
            query = query.where(NamedResourceRow.name > after)

        def work(session: Session) -> Page:
            rows = list(session.scalars(query))
            more = len(rows) > limit
            rows = rows[:limit]
            token = encode_token(scope, rows[-1].name) if more else None
            return Page(items=[_named_record(row) for row in rows], next_token=token)

        return self._tx.read(work, doing=f"listing {kind} resources")

    def delete(self, kind: str, name: str) -> None:
        def work(session: Session) -> None:
            row = session.get(NamedResourceRow, (kind, name))
            if row is None:
                raise _no_such_resource(kind, name)
            session.delete(row)

        self._tx.write(work, doing=f"deleting {kind} {name!r}")


class SqlSecretRepository(SecretRepository):
    """:class:`SecretRepository` over the ``secrets`` table. It never sees plaintext."""

    def __init__(self, transactions: Transactions) -> None:
        self._tx = transactions

    def put(self, name: str, ciphertext: bytes) -> tuple[SecretRecord, bool]:
        if not isinstance(ciphertext, bytes):
            raise InvalidInputError(
                f"the ciphertext of secret {name!r} must be bytes, got {type(ciphertext).__name__}"
            )

        def work(session: Session) -> tuple[SecretRecord, bool]:
            now = utcnow()
            row = session.get(SecretRow, name)
            if row is not None:
                row.ciphertext = ciphertext
                row.updated_at = now
                return _secret_record(row), False
            row = SecretRow(name=name, ciphertext=ciphertext, created_at=now, updated_at=now)
            session.add(row)
            session.flush()
            return _secret_record(row), True

        return self._tx.write(work, doing=f"saving secret {name!r}")

    def get(self, name: str) -> SecretRecord:
        def work(session: Session) -> SecretRecord:
            row = session.get(SecretRow, name)
            if row is None:
                raise _no_such_secret(name)
            return _secret_record(row)

        return self._tx.read(work, doing=f"reading secret {name!r}")

    def list(self) -> list[SecretRecord]:
        def work(session: Session) -> list[SecretRecord]:
            rows = session.scalars(select(SecretRow).order_by(SecretRow.name))
            return [_secret_record(row) for row in rows]

        return self._tx.read(work, doing="listing secrets")

    def delete(self, name: str) -> None:
        def work(session: Session) -> None:
            row = session.get(SecretRow, name)
            if row is None:
                raise _no_such_secret(name)
            session.delete(row)

        self._tx.write(work, doing=f"deleting secret {name!r}")


def _named_record(row: NamedResourceRow) -> NamedRecord:
    return NamedRecord(
        kind=row.kind,
        name=row.name,
        spec=row.spec,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _secret_record(row: SecretRow) -> SecretRecord:
    return SecretRecord(
        name=row.name,
        ciphertext=bytes(row.ciphertext),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _no_such_resource(kind: str, name: str) -> NotFoundError:
    return NotFoundError(
        f"no {kind} named {name!r}; list them with `ferry {kind} list`",
        details={"kind": kind, "name": name},
    )


def _no_such_secret(name: str) -> NotFoundError:
    return NotFoundError(
        f"no secret named {name!r}; check the name, or create the secret first",
        details={"name": name},
    )
