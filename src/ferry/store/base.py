"""The metadata store's ports: one repository per aggregate, records separate from ORM rows.

Implementations: :mod:`ferry.store.sql` (SQLAlchemy 2 over SQLite or PostgreSQL). One contract
test suite (``tests/store/test_contract.py``) runs against every implementation.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ferry.specs.assets import AssetKind

__all__ = [
    "AssetRecord",
    "AssetRepository",
    "NamedRecord",
    "NamedRepository",
    "Page",
    "SecretRecord",
    "SecretRepository",
    "Store",
]


@dataclass(frozen=True)
class AssetRecord:
    """One version of a versioned asset."""

    kind: AssetKind
    name: str
    version: str
    spec: dict[str, Any]
    content_hash: str | None
    archived: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class NamedRecord:
    """A named, unversioned resource (datastore, compute, ...) with its JSON spec."""

    kind: str
    name: str
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SecretRecord:
    """An encrypted secret. ``ciphertext`` is never decrypted by the store."""

    name: str
    ciphertext: bytes
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Page:
    """One page of a listing plus the token of the next page (``None`` on the last)."""

    items: list[Any] = field(default_factory=list)
    next_token: str | None = None


class AssetRepository(abc.ABC):
    """Versioned assets. Versions are immutable once created."""

    @abc.abstractmethod
    def create(
        self,
        kind: AssetKind,
        name: str,
        version: str | None,
        spec: dict[str, Any],
        content_hash: str | None,
    ) -> tuple[AssetRecord, bool]:
        """Create a version; ``version=None`` takes the next integer version atomically.

        Concurrent creates of one name never get the same version. Re-creating an existing
        version with the same ``content_hash`` and spec returns it unchanged.

        Returns:
            The record and whether it was created (``False`` when it already existed, identical).

        Raises:
            ConflictError: the version exists with different content or spec; the message names
                the existing hash and says to omit the version or pick a new one.
        """

    @abc.abstractmethod
    def get(self, kind: AssetKind, name: str, version: str) -> AssetRecord:
        """Raises NotFoundError naming the kind, name and version (and listing known versions)."""

    @abc.abstractmethod
    def latest(self, kind: AssetKind, name: str) -> AssetRecord:
        """The newest non-archived version (by creation order). Raises NotFoundError."""

    @abc.abstractmethod
    def list_versions(
        self,
        kind: AssetKind,
        name: str | None = None,
        *,
        include_archived: bool = False,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page:
        """Versions of one name (newest first), or the latest version of every name."""

    @abc.abstractmethod
    def update(
        self,
        kind: AssetKind,
        name: str,
        version: str,
        *,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> AssetRecord:
        """Change the mutable fields (description, tags) of a version."""

    @abc.abstractmethod
    def set_archived(
        self, kind: AssetKind, name: str, version: str | None, archived: bool
    ) -> list[AssetRecord]:
        """Archive or restore one version, or every version of the name when ``version=None``."""


class NamedRepository(abc.ABC):
    """Unversioned resources keyed by (kind, name): datastores, computes, later endpoints."""

    @abc.abstractmethod
    def put(self, kind: str, name: str, spec: dict[str, Any]) -> tuple[NamedRecord, bool]:
        """Create or replace. Returns the record and whether it was created."""

    @abc.abstractmethod
    def get(self, kind: str, name: str) -> NamedRecord:
        """Raises NotFoundError naming the kind and name."""

    @abc.abstractmethod
    def list(self, kind: str, *, limit: int = 100, page_token: str | None = None) -> Page:
        """Records of one kind, by name."""

    @abc.abstractmethod
    def delete(self, kind: str, name: str) -> None:
        """Raises NotFoundError when absent."""

    def all(self, kind: str) -> Iterator[NamedRecord]:
        """Every record of one kind, by name, page after page."""
        token: str | None = None
        while True:
            page = self.list(kind, limit=500, page_token=token)
            yield from page.items
            token = page.next_token
            if not token:
                return


class SecretRepository(abc.ABC):
    """Encrypted secret values; encryption happens outside the store (see ``ferry.vault``)."""

    @abc.abstractmethod
    def put(self, name: str, ciphertext: bytes) -> tuple[SecretRecord, bool]:
        """Create or replace. Returns the record and whether it was created."""

    @abc.abstractmethod
    def get(self, name: str) -> SecretRecord:
        """Raises NotFoundError naming the secret (never its value)."""

    @abc.abstractmethod
    def list(self) -> list[SecretRecord]:
        """All secrets, by name."""

    @abc.abstractmethod
    def delete(self, name: str) -> None:
        """Raises NotFoundError when absent."""


class Store(abc.ABC):
    """The whole metadata store: one object per workspace, shared by the server's services."""

    assets: AssetRepository
    resources: NamedRepository
    secrets: SecretRepository

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""
