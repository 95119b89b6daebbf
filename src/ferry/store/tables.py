"""ORM rows of the metadata store (SQLAlchemy 2 declarative). Records live in :mod:`.base`.

The schema itself is owned by the Alembic migrations in ``migrations/versions``; these classes
must agree with the newest migration (a test compares them).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from ferry.errors import InvalidInputError

__all__ = [
    "AssetVersionRow",
    "Base",
    "DeploymentRow",
    "EndpointRow",
    "JobRow",
    "JsonDocument",
    "NamedResourceRow",
    "SecretRow",
    "UtcDateTime",
    "json_document",
    "utcnow",
]

# Deterministic constraint names, so migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: JSON on SQLite, JSONB on PostgreSQL (indexable, and equal documents compare equal).
JsonDocument: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")


def json_document(value: dict[str, Any], what: str) -> dict[str, Any]:
    """A deep copy of ``value`` as plain JSON data, exactly as a :data:`JsonDocument` returns it.

    Comparing specs after this round trip matches what the database would give back.

    Raises:
        InvalidInputError: ``value`` is not a JSON object of plain JSON data; ``what`` names it.
    """
    if not isinstance(value, dict):
        raise InvalidInputError(f"{what} must be a JSON object, got {type(value).__name__}")
    try:
        document: dict[str, Any] = json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} is not plain JSON data: {exc}") from exc
    return document


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always stored and returned as timezone-aware UTC.

    SQLite has no timezone type and hands back naive values; PostgreSQL returns them in the
    session's time zone. Both are normalised here so records never carry naive datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(timezone.utc)")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base holding the store's metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class AssetVersionRow(Base):
    """One version of a model, data, environment or code asset."""

    __tablename__ = "asset_versions"
    __table_args__ = (
        UniqueConstraint("kind", "name", "version"),
        Index("ix_asset_versions_kind_name_seq", "kind", "name", "seq"),
    )

    # Autoincrement key doubling as the creation order: "newest" means the highest seq.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(255))
    # The version as an integer when it is one, so "next version" is a MAX() over an index.
    version_number: Mapped[int | None] = mapped_column(BigInteger)
    spec: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    content_hash: Mapped[str | None] = mapped_column(String(128))
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class NamedResourceRow(Base):
    """An unversioned resource keyed by (kind, name): a datastore or a compute."""

    __tablename__ = "named_resources"

    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SecretRow(Base):
    """An encrypted secret; the store only ever sees ciphertext."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class JobRow(Base):
    """A job. What is queried is a column; ``body`` holds the rest of its record."""

    __tablename__ = "jobs"
    __table_args__ = (
        # Listing an endpoint's jobs newest first reads this index, not every job.
        Index("ix_jobs_endpoint_created_at", "endpoint", "created_at"),
        Index("ix_jobs_status", "status"),
        Index("ix_jobs_created_at", "created_at"),
    )

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    endpoint: Mapped[str] = mapped_column(String(255))
    deployment: Mapped[str] = mapped_column(String(255))
    body: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EndpointRow(Base):
    """A batch or online endpoint; ``body`` is its spec without the name."""

    __tablename__ = "endpoints"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    status: Mapped[str] = mapped_column(String(32))
    body: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DeploymentRow(Base):
    """A deployment; the key's (kind, endpoint) prefix lists an endpoint's deployments."""

    __tablename__ = "deployments"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    status: Mapped[str] = mapped_column(String(32))
    body: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
