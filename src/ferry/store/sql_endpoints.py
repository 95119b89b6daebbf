""":class:`EndpointRepository` and :class:`DeploymentRepository` over their SQL tables.

An endpoint's deployments are the rows whose key starts with (kind, endpoint): listing them
reads the primary key's index, and deleting an endpoint deletes them in the same transaction.
"""

from __future__ import annotations

import builtins
from typing import Any, TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ferry.errors import NotFoundError
from ferry.specs.states import DeploymentState
from ferry.store.base import (
    DeploymentRecord,
    DeploymentRepository,
    EndpointKind,
    EndpointRecord,
    EndpointRepository,
)
from ferry.store.json_set import json_set_keys
from ferry.store.tables import DeploymentRow, EndpointRow, json_document, utcnow
from ferry.store.transactions import Transactions

__all__ = ["SqlDeploymentRepository", "SqlEndpointRepository"]


class SqlEndpointRepository(EndpointRepository):
    """Endpoints of both kinds in the ``endpoints`` table."""

    def __init__(self, transactions: Transactions) -> None:
        self._tx = transactions

    def put(
        self,
        kind: EndpointKind,
        name: str,
        body: dict[str, Any],
        status: DeploymentState = DeploymentState.SUCCEEDED,
    ) -> tuple[EndpointRecord, bool]:
        document = json_document(body, f"the spec of {kind} endpoint {name!r}")

        def work(session: Session) -> tuple[EndpointRecord, bool]:
            row, created = _upsert(
                session, EndpointRow, {"kind": kind, "name": name}, document, status
            )
            return _endpoint(row), created

        return self._tx.write(work, doing=f"saving {kind} endpoint {name!r}")

    def get(self, kind: EndpointKind, name: str) -> EndpointRecord:
        def work(session: Session) -> EndpointRecord:
            row = session.get(EndpointRow, (kind, name))
            if row is None:
                raise _no_such_endpoint(kind, name)
            return _endpoint(row)

        return self._tx.read(work, doing=f"reading {kind} endpoint {name!r}")

    def list(self, kind: EndpointKind) -> builtins.list[EndpointRecord]:
        query = select(EndpointRow).where(EndpointRow.kind == kind).order_by(EndpointRow.name)

        def work(session: Session) -> builtins.list[EndpointRecord]:
            return [_endpoint(row) for row in session.scalars(query)]

        return self._tx.read(work, doing=f"listing {kind} endpoints")

    def delete(self, kind: EndpointKind, name: str) -> None:
        def work(session: Session) -> None:
            row = session.get(EndpointRow, (kind, name))
            if row is None:
                raise _no_such_endpoint(kind, name)
            session.execute(
                delete(DeploymentRow).where(
                    DeploymentRow.kind == kind, DeploymentRow.endpoint == name
                )
            )
            session.delete(row)

        self._tx.write(work, doing=f"deleting {kind} endpoint {name!r}")


class SqlDeploymentRepository(DeploymentRepository):
    """Deployments of both kinds in the ``deployments`` table."""

    def __init__(self, transactions: Transactions) -> None:
        self._tx = transactions

    def put(
        self,
        kind: EndpointKind,
        endpoint: str,
        name: str,
        body: dict[str, Any],
        status: DeploymentState = DeploymentState.SUCCEEDED,
    ) -> tuple[DeploymentRecord, bool]:
        what = f"{kind} deployment {name!r} of endpoint {endpoint!r}"
        document = json_document(body, f"the spec of {what}")

        def work(session: Session) -> tuple[DeploymentRecord, bool]:
            key = {"kind": kind, "endpoint": endpoint, "name": name}
            row, created = _upsert(session, DeploymentRow, key, document, status)
            return _deployment(row), created

        return self._tx.write(work, doing=f"saving {what}")

    def get(self, kind: EndpointKind, endpoint: str, name: str) -> DeploymentRecord:
        def work(session: Session) -> DeploymentRecord:
            row = session.get(DeploymentRow, (kind, endpoint, name))
            if row is None:
                raise _no_such_deployment(kind, endpoint, name)
            return _deployment(row)

        return self._tx.read(work, doing=f"reading {kind} deployment {name!r}")

    def list(
        self, kind: EndpointKind, endpoint: str | None = None
    ) -> builtins.list[DeploymentRecord]:
        query = (
            select(DeploymentRow)
            .where(DeploymentRow.kind == kind)
            .order_by(DeploymentRow.endpoint, DeploymentRow.name)
        )
        if endpoint is not None:
            query = query.where(DeploymentRow.endpoint == endpoint)

        def work(session: Session) -> builtins.list[DeploymentRecord]:
            return [_deployment(row) for row in session.scalars(query)]

        return self._tx.read(work, doing=f"listing {kind} deployments")

    def delete(self, kind: EndpointKind, endpoint: str, name: str) -> None:
        def work(session: Session) -> None:
            row = session.get(DeploymentRow, (kind, endpoint, name))
            if row is None:
                raise _no_such_deployment(kind, endpoint, name)
            session.delete(row)

        self._tx.write(work, doing=f"deleting {kind} deployment {name!r}")

    def set_status(
        self,
        kind: EndpointKind,
        endpoint: str,
        name: str,
        status: DeploymentState,
        changes: dict[str, Any] | None = None,
    ) -> bool:
        values: dict[str, Any] = {"status": status.value, "updated_at": utcnow()}
        if changes:
            what = f"{kind} deployment {name!r}"
            dialect = self._tx.engine.dialect.name
            values["body"] = json_set_keys(dialect, DeploymentRow.body, changes, what)
        statement = (
            update(DeploymentRow)
            .where(
                DeploymentRow.kind == kind,
                DeploymentRow.endpoint == endpoint,
                DeploymentRow.name == name,
            )
            .values(values)
        )

        def work(session: Session) -> bool:
            result = session.execute(statement, execution_options={"synchronize_session": False})
            return bool(getattr(result, "rowcount", 0))

        return self._tx.write(work, doing=f"recording the state of {kind} deployment {name!r}")


_Row = TypeVar("_Row", EndpointRow, DeploymentRow)


def _upsert(
    session: Session,
    table: type[_Row],
    key: dict[str, str],
    document: dict[str, Any],
    status: DeploymentState,
) -> tuple[_Row, bool]:
    """Replace the body and status of the row at ``key`` (its primary key's columns, in order),
    or add it; whether it was added."""
    now = utcnow()
    row = session.get(table, tuple(key.values()))
    if row is not None:
        row.body, row.status, row.updated_at = document, status.value, now
        return row, False
    row = table(**key, status=status.value, body=document, created_at=now, updated_at=now)
    session.add(row)
    session.flush()  # a concurrent put of the same new key retries as an update
    return row, True


def _endpoint(row: EndpointRow) -> EndpointRecord:
    return EndpointRecord(
        kind=_kind(row.kind),
        name=row.name,
        status=DeploymentState(row.status),
        body=row.body,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _deployment(row: DeploymentRow) -> DeploymentRecord:
    return DeploymentRecord(
        kind=_kind(row.kind),
        endpoint=row.endpoint,
        name=row.name,
        status=DeploymentState(row.status),
        body=row.body,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _kind(value: str) -> EndpointKind:
    return "online" if value == "online" else "batch"


def _no_such_endpoint(kind: EndpointKind, name: str) -> NotFoundError:
    return NotFoundError(
        f"{kind} endpoint {name!r} does not exist; list them with `ferry {kind}-endpoint list`.",
    )


def _no_such_deployment(kind: EndpointKind, endpoint: str, name: str) -> NotFoundError:
    return NotFoundError(
        f"{kind} deployment {name!r} of endpoint {endpoint!r} does not exist; list them with "
        f"`ferry {kind}-deployment list --endpoint-name {endpoint}`.",
    )
