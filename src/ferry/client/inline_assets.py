"""Register a deployment's inline model, code folder and environment, then refer to them.

Azure's deployment YAML may carry ``model: {path: ./model}``, ``code_configuration.code: ./src``
and an inline ``environment:``. The server stores deployments with references only, so the SDK
registers these first: code is content-addressed, and an anonymous inline environment is
versioned by its content (as Azure does), so re-deploying an unchanged YAML mints no version.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from typing import Any, Protocol, TypeVar

from ferry.client.entities import Code, Environment, Model, _ServerFields
from ferry.client.operations import AssetOperations
from ferry.errors import NotFoundError
from ferry.specs.assets import EnvironmentSpec, ModelSpec
from ferry.specs.batch import CodeConfigurationSpec
from ferry.specs.loader import read_yaml
from ferry.specs.refs import is_asset_ref

__all__ = ["InlineAssets"]


class _Deployable(Protocol):
    name: str
    endpoint_name: str | None
    model: Any
    environment: Any
    code_configuration: CodeConfigurationSpec | None


D = TypeVar("D", bound=_Deployable)


class InlineAssets:
    """Turns a deployment's inline assets into ``azureml:<name>:<version>`` references."""

    def __init__(
        self,
        models: AssetOperations[Model],
        code: AssetOperations[Code],
        environments: AssetOperations[Environment],
    ) -> None:
        self._models = models
        self._code = code
        self._environments = environments

    @staticmethod
    def pin(spec: D) -> D:
        """``spec`` with registered entities (a Model from ``models.get`` ...) replaced by their
        ``azureml:<name>:<version>`` references, so nothing is uploaded again (changed in place).
        """
        for field in ("model", "environment"):
            value = getattr(spec, field)
            if isinstance(value, _ServerFields) and value.reference():
                setattr(spec, field, value.reference())
        return spec

    def register(self, spec: D) -> D:
        """``spec`` with references in place of inline assets (it is changed in place).

        An inline model or environment without a name is registered anonymously, named after
        the deployment (Azure names such assets itself, too).
        """
        self.pin(spec)
        prefix = f"{spec.endpoint_name}-{spec.name}"
        if isinstance(spec.model, ModelSpec):
            data = spec.model.model_dump(exclude={"schema_uri"}, exclude_none=True)
            data.setdefault("name", f"{prefix}-model")
            with _field_named("model.path"):
                model = self._models.create_or_update(Model(**data))
            spec.model = f"azureml:{model.name}:{model.raw['version']}"
        if spec.code_configuration and not is_asset_ref(spec.code_configuration.code):
            with _field_named("code_configuration.code"):
                code = self._code.create_or_update(Code(path=spec.code_configuration.code))
            spec.code_configuration.code = f"azureml:{code.name}:{code.raw['version']}"
        if isinstance(spec.environment, EnvironmentSpec):
            data = spec.environment.model_dump(exclude={"schema_uri"}, exclude_none=True)
            data.setdefault("name", f"{prefix}-env")
            if isinstance(data.get("conda_file"), str):
                data["conda_file"] = read_yaml(data["conda_file"])
            if "version" not in data:
                canonical = json.dumps(data, sort_keys=True, default=str).encode()
                data["version"] = hashlib.sha256(canonical).hexdigest()[:16]
            env = self._environments.create_or_update(Environment(**data))
            spec.environment = f"azureml:{env.name}:{env.raw['version']}"
        return spec


@contextlib.contextmanager
def _field_named(field: str) -> Iterator[None]:
    """A missing local path named as the deployment's field, not as asset create's --path."""
    try:
        yield
    except NotFoundError as exc:
        path = exc.details.get("path")
        if exc.details.get("field") != "path" or path is None:
            raise
        raise NotFoundError(
            f"{field} {path!r} does not exist; fix {field} in the deployment (a relative path "
            "is relative to the deployment's YAML file).",
            details={"field": field, "path": path},
        ) from exc
