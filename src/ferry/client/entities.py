"""SDK entities, named as in ``azure.ai.ml.entities``: the shared specs plus server fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from ferry.specs.assets import (
    AssetTypes,
    BuildContext,
    CodeSpec,
    DataSpec,
    EnvironmentSpec,
    ModelSpec,
)
from ferry.specs.workspace import ComputeSpec, DatastoreSpec

__all__ = [
    "AssetTypes",
    "BuildContext",
    "Code",
    "CodeConfiguration",
    "Compute",
    "Data",
    "Datastore",
    "Environment",
    "Input",
    "Model",
    "from_server",
]

E = TypeVar("E", bound=BaseModel)


class _ServerFields(BaseModel):
    """Read-only fields the server fills in; ``None`` on an entity built locally."""

    id: str | None = Field(default=None, description="azureml:<name>:<version>.")
    content_hash: str | None = Field(default=None, description="sha256 of the uploaded files.")
    archived: bool = Field(default=False, description="Whether the version is archived.")
    created_at: datetime | None = Field(default=None, description="Creation time (UTC).")
    updated_at: datetime | None = Field(default=None, description="Last update time (UTC).")
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def raw(self) -> dict[str, Any]:
        """Everything the server returned, including fields this SDK version does not model."""
        return self._raw


class Model(ModelSpec, _ServerFields):
    """A model asset: ``Model(name="m", path="./model", type=AssetTypes.CUSTOM_MODEL)``."""

    signature: dict[str, Any] | None = Field(default=None, description="MLflow signature.")


class Data(DataSpec, _ServerFields):
    """A data asset: ``Data(name="d", path="./data", type=AssetTypes.URI_FOLDER)``."""


class Environment(EnvironmentSpec, _ServerFields):
    """An environment: ``Environment(name="e", conda_file="conda.yaml", image="...")``."""

    pip_requirements: list[str] | None = Field(
        default=None, description="The conda file's pip section, as the server read it."
    )


class Code(CodeSpec, _ServerFields):
    """A code snapshot."""


class Datastore(DatastoreSpec):
    """A datastore: ``Datastore(name="s3data", type="s3", bucket="b", credentials={...})``."""

    created_at: datetime | None = Field(default=None, description="Creation time (UTC).")
    updated_at: datetime | None = Field(default=None, description="Last update time (UTC).")


class Compute(ComputeSpec):
    """A compute target: ``Compute(name="ray1", type="ray", address="ray://host:10001")``."""

    created_at: datetime | None = Field(default=None, description="Creation time (UTC).")
    updated_at: datetime | None = Field(default=None, description="Last update time (UTC).")


class CodeConfiguration(BaseModel):
    """Where a deployment's scoring script lives.

    ``CodeConfiguration(code="./src", scoring_script="score.py")``.
    """

    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="Local folder or code asset reference.")
    scoring_script: str = Field(description="Script path relative to the code folder.")


class Input(BaseModel):
    """A job input: ``Input(type=AssetTypes.URI_FOLDER, path="azureml:data@latest")``."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(default=AssetTypes.URI_FOLDER, description="uri_folder | uri_file | mltable.")
    path: str = Field(description="Local path, data asset reference or datastore URI.")
    mode: str | None = Field(default=None, description="ro_mount | download | direct.")


def from_server(cls: type[E], data: dict[str, Any]) -> E:
    """Build an entity from a server response, keeping unknown fields in ``.raw``."""
    fields = cls.model_fields
    aliases = {f.alias for f in fields.values() if f.alias}
    known = {k: v for k, v in data.items() if k in fields or k in aliases}
    if "credentials" in known and isinstance(known["credentials"], list):
        known["credentials"] = dict.fromkeys(known["credentials"], "***")
    entity = cls.model_validate(known)
    if isinstance(entity, _ServerFields):
        entity._raw = dict(data)
    return entity
