"""A deployment's references to registered assets: validated, and pinned to versions.

Shared by batch and online deployments. ``azureml:model@latest`` is resolved when the deployment
is created and stored as ``azureml:model:<version>``, as Azure does, so registering a newer
version later does not silently change what a running deployment (or a restarted replica) loads.
"""

from __future__ import annotations

from typing import Any, Protocol

from ferry.errors import InvalidInputError, NotFoundError
from ferry.services.assets import AssetService
from ferry.specs.assets import AssetKind
from ferry.specs.batch import CodeConfigurationSpec
from ferry.specs.refs import SERVER_PYTHON, is_asset_ref
from ferry.store.base import AssetRecord

__all__ = ["SERVER_PYTHON", "pin_references"]


class _Deployable(Protocol):
    model: Any
    environment: Any
    code_configuration: CodeConfigurationSpec | None


def pin_references(assets: AssetService, spec: _Deployable) -> dict[AssetKind, AssetRecord]:
    """Check that model, environment and code reference registered assets; pin their versions.

    Returns the resolved records by kind. Raises InvalidInputError for an inline (unregistered)
    value and NotFoundError naming the field for a reference that does not resolve.
    """
    code = spec.code_configuration.code if spec.code_configuration else None
    resolved: dict[AssetKind, AssetRecord] = {}
    for field, kind, value in (
        ("model", AssetKind.MODEL, spec.model),
        ("environment", AssetKind.ENVIRONMENT, spec.environment),
        ("code_configuration.code", AssetKind.CODE, code),
    ):
        if value is None or value == SERVER_PYTHON:
            continue
        if not isinstance(value, str) or not is_asset_ref(value):
            raise InvalidInputError(
                f"{field} must reference a registered {kind.value} (azureml:<name>:<version> or "
                "azureml:<name>@latest); the ferry CLI and SDK register local ones for you.",
                details={"field": field},
            )
        try:
            record = assets.resolve(kind, value)
        except NotFoundError as exc:
            raise NotFoundError(
                f"{field} {value!r} does not resolve: {exc.message}", details={"field": field}
            ) from exc
        resolved[kind] = record
        pinned = f"azureml:{record.name}:{record.version}"
        if kind is AssetKind.MODEL:
            spec.model = pinned
        elif kind is AssetKind.ENVIRONMENT:
            spec.environment = pinned
        elif spec.code_configuration is not None:
            spec.code_configuration.code = pinned
    return resolved
