"""The metadata store's ports: one repository per aggregate, records separate from ORM rows.

Implementations: :mod:`ferry.store.sql` (SQLAlchemy 2 over SQLite or PostgreSQL). One contract
test suite (``tests/store/test_contract.py``) runs against every implementation.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ferry.specs.assets import AssetKind
from ferry.specs.states import DeploymentState, JobState

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
    "Store",
]

#: Endpoints and deployments are batch or online; the same name may exist once of each kind.
EndpointKind = Literal["batch", "online"]


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
class JobRecord:
    """A job: its typed columns, and ``body``, the rest of its record (input, error, ...)."""

    name: str
    kind: str  # the job's type: "batch"
    status: JobState
    endpoint: str
    deployment: str
    body: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class EndpointRecord:
    """An endpoint: ``body`` is its spec without the name."""

    kind: EndpointKind
    name: str
    status: DeploymentState
    body: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DeploymentRecord:
    """A deployment of an endpoint: ``body`` is its spec without the names (and its error)."""

    kind: EndpointKind
    endpoint: str
    name: str
    status: DeploymentState
    body: dict[str, Any]
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
    """Unversioned resources keyed by (kind, name): datastores and computes."""

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


class JobRepository(abc.ABC):
    """Jobs, with their state in a typed column; updates are atomic, so nothing is lost."""

    @abc.abstractmethod
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
        """Insert a new job.

        Raises:
            ConflictError: a job of that name exists (also when two creates race).
        """

    @abc.abstractmethod
    def get(self, name: str) -> JobRecord:
        """Raises NotFoundError naming the job."""

    @abc.abstractmethod
    def list(
        self,
        *,
        endpoint: str | None = None,
        deployment: str | None = None,
        statuses: Collection[JobState] | None = None,
        limit: int | None = None,
    ) -> list[JobRecord]:
        """Jobs, newest first, of one endpoint (and deployment) and in the given states; the
        newest ``limit`` of them when given."""

    @abc.abstractmethod
    def update(
        self,
        name: str,
        *,
        status: JobState | None = None,
        changes: dict[str, Any] | None = None,
        when: Collection[JobState] | None = None,
    ) -> bool:
        """Set the status and the top-level ``changes`` of the body, in one statement.

        Concurrent updates of one job never lose each other's changes: each is merged into
        the record as it is in the database, not as the caller last read it.

        Args:
            when: Update only a job that is in one of these states (a transition).

        Returns:
            Whether the job was updated (False: it was not in a ``when`` state).

        Raises:
            NotFoundError: there is no such job.
        """


class EndpointRepository(abc.ABC):
    """Batch and online endpoints, keyed by (kind, name)."""

    @abc.abstractmethod
    def put(
        self,
        kind: EndpointKind,
        name: str,
        body: dict[str, Any],
        status: DeploymentState = DeploymentState.SUCCEEDED,
    ) -> tuple[EndpointRecord, bool]:
        """Create or replace. Returns the record and whether it was created."""

    @abc.abstractmethod
    def get(self, kind: EndpointKind, name: str) -> EndpointRecord:
        """Raises NotFoundError naming the endpoint."""

    @abc.abstractmethod
    def list(self, kind: EndpointKind) -> list[EndpointRecord]:
        """Every endpoint of one kind, by name."""

    @abc.abstractmethod
    def delete(self, kind: EndpointKind, name: str) -> None:
        """Delete the endpoint and its deployments together. Raises NotFoundError."""


class DeploymentRepository(abc.ABC):
    """Batch and online deployments, keyed by (kind, endpoint, name)."""

    @abc.abstractmethod
    def put(
        self,
        kind: EndpointKind,
        endpoint: str,
        name: str,
        body: dict[str, Any],
        status: DeploymentState = DeploymentState.SUCCEEDED,
    ) -> tuple[DeploymentRecord, bool]:
        """Create or replace. Returns the record and whether it was created."""

    @abc.abstractmethod
    def get(self, kind: EndpointKind, endpoint: str, name: str) -> DeploymentRecord:
        """Raises NotFoundError naming the deployment and its endpoint."""

    @abc.abstractmethod
    def list(self, kind: EndpointKind, endpoint: str | None = None) -> list[DeploymentRecord]:
        """The deployments of one endpoint (or of every endpoint), by endpoint and name."""

    @abc.abstractmethod
    def delete(self, kind: EndpointKind, endpoint: str, name: str) -> None:
        """Raises NotFoundError when absent."""

    @abc.abstractmethod
    def set_status(
        self,
        kind: EndpointKind,
        endpoint: str,
        name: str,
        status: DeploymentState,
        changes: dict[str, Any] | None = None,
    ) -> bool:
        """Set the status and top-level ``changes`` of the body in one statement.

        Returns:
            False when there is no such deployment (deleted meanwhile).
        """


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
    jobs: JobRepository
    endpoints: EndpointRepository
    deployments: DeploymentRepository

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""
