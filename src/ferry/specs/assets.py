"""Registry assets: models, data, environments and code, as Azure ML v2 YAML describes them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar

from pydantic import ConfigDict, Field, field_validator, model_validator

from ferry.specs.base import Resource, Spec
from ferry.specs.names import ASSET_NAME, VERSION

__all__ = [
    "SPEC_BY_KIND",
    "AssetKind",
    "AssetResource",
    "AssetSpec",
    "AssetTypes",
    "BuildContext",
    "CodeSpec",
    "DataSpec",
    "EnvironmentSpec",
    "ModelSpec",
]


class AssetKind(str, enum.Enum):
    """The versioned asset families of the registry (also the REST collection names)."""

    MODEL = "model"
    DATA = "data"
    ENVIRONMENT = "environment"
    CODE = "code"

    @property
    def collection(self) -> str:
        return {"model": "models", "data": "data", "environment": "environments", "code": "codes"}[
            self.value
        ]


class AssetTypes:
    """The ``type`` values of models and data, named as ``azure.ai.ml.constants.AssetTypes``."""

    CUSTOM_MODEL = "custom_model"
    MLFLOW_MODEL = "mlflow_model"
    TRITON_MODEL = "triton_model"
    URI_FILE = "uri_file"
    URI_FOLDER = "uri_folder"
    MLTABLE = "mltable"


class AssetSpec(Spec):
    """Fields every asset shares."""

    name: str = Field(
        description="Asset name (Azure rule: letters, digits, '-', '_', '.').",
        json_schema_extra=ASSET_NAME.json_schema(),
    )
    version: str | None = Field(
        default=None,
        description="Version; omitted means the next integer version.",
        # YAML's 'version: 1' is an integer; it is read as the string "1".
        json_schema_extra={
            "anyOf": [
                {"type": "string", **VERSION.json_schema(max_length=100)},
                {"type": "integer", "minimum": 0},
                {"type": "null"},
            ]
        },
    )
    description: str | None = Field(default=None, description="Free text shown in listings.")
    tags: dict[str, str] = Field(default_factory=dict, description="Key/value labels.")
    properties: dict[str, str] = Field(
        default_factory=dict, description="Immutable key/value metadata."
    )

    @field_validator("name")
    @classmethod
    def _name_rule(cls, value: str | None) -> str | None:
        return None if value is None else ASSET_NAME.check(value)

    @field_validator("version", mode="before")
    @classmethod
    def _version_rule(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):
            return VERSION.check(value, field="version")
        return value


class ModelSpec(AssetSpec):
    """A model: a file or a folder (for example a diffusers ``save_pretrained`` folder)."""

    path_fields: ClassVar[tuple[str, ...]] = ("path",)

    path: str = Field(description="Local file or folder to upload, or a URI to reference.")
    type: str = Field(
        default=AssetTypes.CUSTOM_MODEL,
        description="custom_model | mlflow_model | triton_model.",
        pattern="^(custom_model|mlflow_model|triton_model)$",
    )
    flavors: dict[str, Any] | None = Field(
        default=None, description="MLflow flavors, read from the MLmodel file when present."
    )
    stage: str | None = Field(default=None, description="Free-form stage label.")


class DataSpec(AssetSpec):
    """A data asset: a file, a folder, or an MLTable folder."""

    path_fields: ClassVar[tuple[str, ...]] = ("path",)

    path: str = Field(description="Local file or folder to upload, or a URI to reference.")
    type: str = Field(
        default=AssetTypes.URI_FOLDER,
        description="uri_file | uri_folder | mltable.",
        pattern="^(uri_file|uri_folder|mltable)$",
    )


class BuildContext(Spec):
    """A Docker build context folder (``build:`` in environment YAML)."""

    path_fields: ClassVar[tuple[str, ...]] = ("path",)

    path: str = Field(description="Folder holding the Dockerfile and its context.")
    dockerfile_path: str = Field(
        default="Dockerfile", description="Dockerfile path inside the context folder."
    )


def _source(given: str, *absent: str) -> dict[str, Any]:
    types = {"build": "object", "image": "string", "conda_file": ["string", "object"]}
    return {
        "required": [given],
        "properties": {
            given: {"type": types[given]},
            **{field: {"type": "null"} for field in absent},
        },
    }


class EnvironmentSpec(AssetSpec):
    """An environment: a conda file, an image, or a build context."""

    # _one_source as JSON Schema, for OpenAPI.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                _source("build", "image", "conda_file"),
                _source("image", "build"),
                _source("conda_file", "build"),
            ]
        }
    )

    path_fields: ClassVar[tuple[str, ...]] = ("conda_file", "build.path")

    image: str | None = Field(default=None, description="Base container image.")
    conda_file: str | dict[str, Any] | None = Field(
        default=None, description="Path of a conda YAML file, or its parsed content."
    )
    build: BuildContext | None = Field(default=None, description="Docker build context.")
    os_type: str = Field(
        default="linux", description="linux | windows.", pattern="^(linux|windows)$"
    )
    inference_config: dict[str, Any] | None = Field(
        default=None, description="Routes of a custom inference container."
    )

    @model_validator(mode="after")
    def _one_source(self) -> EnvironmentSpec:
        if self.build is not None and (self.image or self.conda_file):
            raise ValueError("set either 'build' or 'image'/'conda_file', not both")
        if self.build is None and self.image is None and self.conda_file is None:
            raise ValueError("set one of 'image', 'conda_file' or 'build'")
        return self


class CodeSpec(AssetSpec):
    """A code snapshot: a folder, content-addressed."""

    path_fields: ClassVar[tuple[str, ...]] = ("path",)

    path: str = Field(description="Local folder to snapshot, or a URI.")
    name: str | None = Field(  # type: ignore[assignment]
        default=None, description="Name; omitted means 'code-<content hash>', version 1."
    )


SPEC_BY_KIND: dict[AssetKind, type[AssetSpec]] = {
    AssetKind.MODEL: ModelSpec,
    AssetKind.DATA: DataSpec,
    AssetKind.ENVIRONMENT: EnvironmentSpec,
    AssetKind.CODE: CodeSpec,
}


class AssetResource(Resource):
    """An asset version as the server returns it: the spec's fields, flat, plus server fields.

    ``path`` is the storage URI after upload. Spec fields beyond the ones below are kept as extras,
    so ``--query type`` works as it does with ``az ml``.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    kind: AssetKind = Field(description="model | data | environment | code.")
    name: str = Field(description="Asset name.")
    version: str = Field(description="Asset version.")
    id: str = Field(description="azureml:<name>:<version>.")
    description: str | None = Field(default=None, description="Free text.")
    tags: dict[str, str] = Field(default_factory=dict, description="Key/value labels.")
    content_hash: str | None = Field(
        default=None, description="sha256 over the uploaded files, when uploaded."
    )
    archived: bool = Field(default=False, description="Archived versions hide from listings.")
    created_at: datetime = Field(description="Creation time (UTC).")
    updated_at: datetime = Field(description="Last update time (UTC).")
