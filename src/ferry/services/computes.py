"""Compute targets: where jobs and deployments run. A compute named ``local`` always exists."""

from __future__ import annotations

from typing import Any

from ferry.errors import ConflictError, NotFoundError
from ferry.specs.names import COMPUTE_NAME
from ferry.specs.workspace import LOCAL_COMPUTE, ComputeSpec
from ferry.store.base import NamedRepository, Page

__all__ = ["ComputeService"]

_KIND = "compute"


class ComputeService:
    """Create, show, list and delete computes."""

    def __init__(self, repo: NamedRepository) -> None:
        self._repo = repo

    def ensure_local(self) -> None:
        try:
            self._repo.get(_KIND, LOCAL_COMPUTE)
        except NotFoundError:
            self._repo.put(_KIND, LOCAL_COMPUTE, _local_spec().to_json())

    def create(self, spec: ComputeSpec) -> tuple[dict[str, Any], bool]:
        if spec.name == LOCAL_COMPUTE and spec.type != "local":
            # 409: the request is well formed; it conflicts with the compute that exists.
            raise ConflictError(
                "the compute 'local' is built in and always of type local; choose another name.",
                details={"field": "name"},
            )
        record, created = self._repo.put(_KIND, spec.name, spec.to_json())
        return _view(record.spec, record.created_at, record.updated_at), created

    def get(self, name: str) -> dict[str, Any]:
        COMPUTE_NAME.check(name)
        record = self._repo.get(_KIND, name)
        return _view(record.spec, record.created_at, record.updated_at)

    def get_spec(self, name: str) -> ComputeSpec:
        return ComputeSpec.model_validate(self._repo.get(_KIND, name).spec)

    def list(self, *, limit: int = 100, page_token: str | None = None) -> Page:
        page = self._repo.list(_KIND, limit=limit, page_token=page_token)
        return Page(
            [_view(r.spec, r.created_at, r.updated_at) for r in page.items], page.next_token
        )

    def delete(self, name: str) -> None:
        if name == LOCAL_COMPUTE:
            raise ConflictError(
                "the compute 'local' is built in and cannot be deleted.", details={"field": "name"}
            )
        self._repo.delete(_KIND, name)


def _local_spec() -> ComputeSpec:
    return ComputeSpec(name=LOCAL_COMPUTE, type="local", description="This machine.")


def _view(spec: dict[str, Any], created_at: Any, updated_at: Any) -> dict[str, Any]:
    return {**spec, "created_at": created_at, "updated_at": updated_at}
