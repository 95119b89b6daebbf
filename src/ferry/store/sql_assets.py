"""Versioned assets (models, data, environments, code) in SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from ferry.errors import NotFoundError
from ferry.specs.assets import AssetKind
from ferry.store.asset_errors import (
    all_archived,
    check_identical,
    missing_version,
    no_such_name,
)
from ferry.store.base import AssetRecord, AssetRepository, Page
from ferry.store.paging import check_limit, decode_token, encode_token
from ferry.store.tables import AssetVersionRow, json_document, utcnow
from ferry.store.transactions import Transactions

__all__ = ["SqlAssetRepository"]

_Row = AssetVersionRow


class SqlAssetRepository(AssetRepository):
    """:class:`AssetRepository` over the ``asset_versions`` table."""

    def __init__(self, transactions: Transactions) -> None:
        self._tx = transactions

    def create(
        self,
        kind: AssetKind,
        name: str,
        version: str | None,
        spec: dict[str, Any],
        content_hash: str | None,
    ) -> tuple[AssetRecord, bool]:
        kind = AssetKind(kind)
        document = json_document(spec, f"the spec of {kind.value} {name!r}")

        def work(session: Session) -> tuple[AssetRecord, bool]:
            if version is None:
                _serialize_name(session, kind, name)
                chosen = _next_version(session, kind, name)
            else:
                chosen = version
                existing = _find(session, kind, name, chosen)
                if existing is not None:
                    check_identical(existing, document, content_hash)
                    return _record(existing), False
            now = utcnow()
            row = _Row(
                kind=kind.value,
                name=name,
                version=chosen,
                version_number=_as_number(chosen),
                spec=document,
                content_hash=content_hash,
                archived=False,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            # Flush inside the transaction so a lost race raises IntegrityError here and
            # Transactions.write runs this again, now seeing the winner's row.
            session.flush()
            return _record(row), True

        return self._tx.write(work, doing=f"creating {kind.value} {name!r}")

    def get(self, kind: AssetKind, name: str, version: str) -> AssetRecord:
        kind = AssetKind(kind)

        def work(session: Session) -> AssetRecord:
            row = _find(session, kind, name, version)
            if row is None:
                raise _missing(session, kind, name, version)
            return _record(row)

        return self._tx.read(work, doing=f"reading {kind.value} {name!r}")

    def latest(self, kind: AssetKind, name: str) -> AssetRecord:
        kind = AssetKind(kind)

        def work(session: Session) -> AssetRecord:
            row = session.scalars(
                _versions(kind, name).where(_Row.archived.is_(False)).limit(1)
            ).first()
            if row is not None:
                return _record(row)
            archived = session.scalars(_versions(kind, name).limit(1)).first()
            if archived is None:
                raise no_such_name(kind, name)
            raise all_archived(kind, name, archived.version)

        return self._tx.read(work, doing=f"reading {kind.value} {name!r}")

    def list_versions(
        self,
        kind: AssetKind,
        name: str | None = None,
        *,
        include_archived: bool = False,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page:
        kind = AssetKind(kind)
        check_limit(limit)
        if name is None:
            return self._latest_of_each_name(kind, include_archived, limit, page_token)
        scope = f"versions:{kind.value}:{name}:{include_archived}"
        after = decode_token(page_token, scope, int)
        query = _versions(kind, name).limit(limit + 1)
        if not include_archived:
            query = query.where(_Row.archived.is_(False))
        if after is not None:
            query = query.where(_Row.seq < after)

        def work(session: Session) -> Page:
            rows = list(session.scalars(query))
            more = len(rows) > limit
            rows = rows[:limit]
            token = encode_token(scope, rows[-1].seq) if more else None
            return Page(items=[_record(row) for row in rows], next_token=token)

        return self._tx.read(work, doing=f"listing {kind.value} versions")

    def _latest_of_each_name(
        self, kind: AssetKind, include_archived: bool, limit: int, page_token: str | None
    ) -> Page:
        scope = f"latest:{kind.value}:{include_archived}"
        after = decode_token(page_token, scope, str)
        newest = select(func.max(_Row.seq)).where(_Row.kind == kind.value).group_by(_Row.name)
        if not include_archived:
            newest = newest.where(_Row.archived.is_(False))
        if after is not None:
            newest = newest.where(_Row.name > after)
        query = select(_Row).where(_Row.seq.in_(newest)).order_by(_Row.name).limit(limit + 1)

        def work(session: Session) -> Page:
            rows = list(session.scalars(query))
            more = len(rows) > limit
            rows = rows[:limit]
            token = encode_token(scope, rows[-1].name) if more else None
            return Page(items=[_record(row) for row in rows], next_token=token)

        return self._tx.read(work, doing=f"listing {kind.value} assets")

    def update(
        self,
        kind: AssetKind,
        name: str,
        version: str,
        *,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> AssetRecord:
        kind = AssetKind(kind)
        changes: dict[str, Any] = {}
        if description is not None:
            changes["description"] = description
        if tags is not None:
            changes["tags"] = json_document(tags, f"the tags of {kind.value} {name!r}")

        def work(session: Session) -> AssetRecord:
            row = _find(session, kind, name, version)
            if row is None:
                raise _missing(session, kind, name, version)
            spec = {**row.spec, **changes}
            if spec != row.spec:
                row.spec = spec  # a new dict, so SQLAlchemy sees the JSON change
                row.updated_at = utcnow()
            return _record(row)

        return self._tx.write(work, doing=f"updating {kind.value} {name!r}")

    def set_archived(
        self, kind: AssetKind, name: str, version: str | None, archived: bool
    ) -> list[AssetRecord]:
        kind = AssetKind(kind)

        def work(session: Session) -> list[AssetRecord]:
            query = _versions(kind, name)
            if version is not None:
                query = query.where(_Row.version == version)
            rows = list(session.scalars(query))
            if not rows:
                raise (
                    no_such_name(kind, name)
                    if version is None
                    else _missing(session, kind, name, version)
                )
            now = utcnow()
            for row in rows:
                if row.archived != archived:
                    row.archived = archived
                    row.updated_at = now
            return [_record(row) for row in rows]

        doing = "archiving" if archived else "restoring"
        return self._tx.write(work, doing=f"{doing} {kind.value} {name!r}")


def _versions(kind: AssetKind, name: str) -> Select[AssetVersionRow]:
    """All versions of one name, newest first."""
    return select(_Row).where(_Row.kind == kind.value, _Row.name == name).order_by(_Row.seq.desc())


def _find(session: Session, kind: AssetKind, name: str, version: str) -> AssetVersionRow | None:
    return session.scalars(
        select(_Row).where(_Row.kind == kind.value, _Row.name == name, _Row.version == version)
    ).first()


def _serialize_name(session: Session, kind: AssetKind, name: str) -> None:
    """On PostgreSQL, make concurrent auto-versioned creates of one name take turns.

    The unique key plus retries would be enough for correctness, but with many writers they
    would spin; the transaction-scoped advisory lock makes them queue instead. SQLite needs
    nothing: write transactions start with ``BEGIN IMMEDIATE`` and so are serial already.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"ferry.asset:{kind.value}:{name}"},
        )


def _next_version(session: Session, kind: AssetKind, name: str) -> str:
    highest = session.scalar(
        select(func.max(_Row.version_number)).where(_Row.kind == kind.value, _Row.name == name)
    )
    return str((highest or 0) + 1)


def _as_number(version: str) -> int | None:
    # Bounded so it always fits a BIGINT; longer digit strings are just not "integer versions".
    if version.isascii() and version.isdigit() and len(version) <= 18:
        return int(version)
    return None


def _record(row: AssetVersionRow) -> AssetRecord:
    return AssetRecord(
        kind=AssetKind(row.kind),
        name=row.name,
        version=row.version,
        spec=row.spec,
        content_hash=row.content_hash,
        archived=row.archived,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _missing(session: Session, kind: AssetKind, name: str, version: str) -> NotFoundError:
    known = session.scalars(
        select(_Row.version)
        .where(_Row.kind == kind.value, _Row.name == name)
        .order_by(_Row.seq.desc())
    )
    return missing_version(kind, name, version, list(known))
