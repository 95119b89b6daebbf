""":class:`~ferry.store.base.JobRepository` over the ``jobs`` table.

A job's state changes with one ``UPDATE`` that sets the status column and merges the changed
keys into the body in the database (:mod:`.json_set`), so concurrent writers in any number of
threads or processes never lose each other's changes, and no lock is held between a read and
a write.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from ferry.errors import ConflictError, NotFoundError
from ferry.specs.states import JobState
from ferry.store.base import JobRecord, JobRepository
from ferry.store.json_set import json_set_keys
from ferry.store.tables import JobRow, json_document, utcnow
from ferry.store.transactions import Transactions

__all__ = ["SqlJobRepository", "jobs_query"]


def jobs_query(
    endpoint: str | None = None,
    deployment: str | None = None,
    statuses: Collection[JobState] | None = None,
) -> Select[JobRow]:
    """The listing query, newest first (by endpoint it reads ``ix_jobs_endpoint_created_at``)."""
    query = select(JobRow).order_by(JobRow.created_at.desc(), JobRow.name.desc())
    if endpoint is not None:
        query = query.where(JobRow.endpoint == endpoint)
    if deployment is not None:
        query = query.where(JobRow.deployment == deployment)
    if statuses is not None:
        query = query.where(JobRow.status.in_([s.value for s in statuses]))
    return query


class SqlJobRepository(JobRepository):
    """Jobs in SQL; see the module docstring for how updates stay atomic."""

    def __init__(self, transactions: Transactions) -> None:
        self._tx = transactions

    def create(
        self,
        name: str,
        *,
        kind: str,
        status: JobState,
        endpoint: str,
        deployment: str,
        body: dict[str, Any],
    ) -> JobRecord:
        document = json_document(body, f"the record of job {name!r}")

        def work(session: Session) -> JobRecord:
            if session.get(JobRow, name) is not None:
                raise ConflictError(f"a job named {name!r} exists already", details={"name": name})
            now = utcnow()
            row = JobRow(
                name=name,
                kind=kind,
                status=status.value,
                endpoint=endpoint,
                deployment=deployment,
                body=document,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()  # a concurrent create of the same name retries and sees it
            return _record(row)

        return self._tx.write(work, doing=f"creating job {name!r}")

    def get(self, name: str) -> JobRecord:
        def work(session: Session) -> JobRecord:
            row = session.get(JobRow, name)
            if row is None:
                raise _no_such_job(name)
            return _record(row)

        return self._tx.read(work, doing=f"reading job {name!r}")

    def list(
        self,
        *,
        endpoint: str | None = None,
        deployment: str | None = None,
        statuses: Collection[JobState] | None = None,
        limit: int | None = None,
    ) -> builtins.list[JobRecord]:
        query = jobs_query(endpoint, deployment, statuses)
        if limit is not None:
            query = query.limit(limit)

        def work(session: Session) -> builtins.list[JobRecord]:
            return [_record(row) for row in session.scalars(query)]

        return self._tx.read(work, doing="listing jobs")

    def update(
        self,
        name: str,
        *,
        status: JobState | None = None,
        changes: dict[str, Any] | None = None,
        when: Collection[JobState] | None = None,
    ) -> bool:
        values: dict[str, Any] = {"updated_at": utcnow()}
        if status is not None:
            values["status"] = status.value
        if changes:
            dialect = self._tx.engine.dialect.name
            values["body"] = json_set_keys(dialect, JobRow.body, changes, f"job {name!r}")
        statement = update(JobRow).where(JobRow.name == name).values(values)
        if when is not None:
            statement = statement.where(JobRow.status.in_([s.value for s in when]))

        def work(session: Session) -> bool:
            result = session.execute(statement, execution_options={"synchronize_session": False})
            if getattr(result, "rowcount", 0):
                return True
            if session.get(JobRow, name) is None:
                raise _no_such_job(name)
            return False  # there, but not in a `when` state

        return self._tx.write(work, doing=f"updating job {name!r}")


def _record(row: JobRow) -> JobRecord:
    return JobRecord(
        name=row.name,
        kind=row.kind,
        status=JobState(row.status),
        endpoint=row.endpoint,
        deployment=row.deployment,
        body=row.body,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _no_such_job(name: str) -> NotFoundError:
    return NotFoundError(f"job {name!r} does not exist; list jobs with `ferry job list`.")
