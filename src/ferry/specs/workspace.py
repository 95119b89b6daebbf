"""Workspace resources that are not versioned: datastores and computes."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from ferry.specs.base import Spec
from ferry.specs.names import COMPUTE_NAME, DATASTORE_NAME

__all__ = ["DEFAULT_DATASTORE", "LOCAL_COMPUTE", "ComputeSpec", "DatastoreSpec"]

DEFAULT_DATASTORE = "workspaceblobstore"
LOCAL_COMPUTE = "local"


def _needs(field: str) -> dict[str, Any]:
    return {"required": [field], "properties": {field: {"type": "string", "minLength": 1}}}


def _when_type(value: str, then: dict[str, Any]) -> dict[str, Any]:
    return {"if": {"properties": {"type": {"const": value}}, "required": ["type"]}, "then": then}


# _required_per_type as JSON Schema, so OpenAPI tells which fields each type needs.
_DATASTORE_RULES: dict[str, Any] = {
    "allOf": [
        _when_type("local", _needs("root")),
        _when_type("s3", _needs("bucket")),
        _when_type(
            "azure_blob",
            {
                **_needs("container_name"),
                "anyOf": [
                    _needs("account_name"),
                    {
                        "required": ["credentials"],
                        "properties": {"credentials": {"required": ["connection_string"]}},
                    },
                ],
            },
        ),
    ]
}
# The address half of ComputeSpec._bounds (min_instances <= max_instances has no JSON Schema).
_COMPUTE_RULES: dict[str, Any] = {
    "if": {"properties": {"type": {"const": "ray"}}, "required": ["type"]},
    "else": {"properties": {"address": {"enum": [None, ""]}}},
}


class DatastoreSpec(Spec):
    """Where artifact bytes live. Credentials are moved into encrypted secrets on create.

    ``local`` is a folder; ``s3`` is a bucket (any S3-compatible endpoint); ``azure_blob`` is a
    container in a storage account (Azurite works through ``connection_string``).
    """

    model_config = ConfigDict(json_schema_extra=_DATASTORE_RULES)

    name: str = Field(
        description="Datastore name (letters, digits, '_').",
        json_schema_extra=DATASTORE_NAME.json_schema(),
    )
    type: str = Field(description="local | s3 | azure_blob.", pattern="^(local|s3|azure_blob)$")
    description: str | None = Field(default=None, description="Free text.")
    tags: dict[str, str] = Field(default_factory=dict, description="Key/value labels.")
    # local
    root: str | None = Field(default=None, description="local: the folder that holds the bytes.")
    # s3
    bucket: str | None = Field(default=None, description="s3: bucket name.")
    endpoint_url: str | None = Field(
        default=None, description="s3: endpoint for S3-compatible stores (MinIO, moto)."
    )
    region: str | None = Field(default=None, description="s3: region name.")
    # azure_blob
    account_name: str | None = Field(default=None, description="azure_blob: storage account.")
    container_name: str | None = Field(default=None, description="azure_blob: blob container.")
    endpoint: str | None = Field(
        default=None, description="azure_blob: storage endpoint suffix (core.windows.net)."
    )
    protocol: str | None = Field(default=None, description="azure_blob: https | http.")
    prefix: str = Field(default="", description="Path prefix inside the bucket or container.")
    credentials: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "s3: access_key_id, secret_access_key[, session_token]; azure_blob: account_key, "
            "sas_token or connection_string. Stored encrypted as secrets, never returned."
        ),
    )

    @field_validator("name")
    @classmethod
    def _name_rule(cls, value: str) -> str:
        return DATASTORE_NAME.check(value)

    @model_validator(mode="after")
    def _required_per_type(self) -> DatastoreSpec:
        needed = {"local": ["root"], "s3": ["bucket"], "azure_blob": ["container_name"]}[self.type]
        missing = [f for f in needed if not getattr(self, f)]
        if missing:
            raise ValueError(f"a {self.type} datastore needs {', '.join(missing)}")
        if self.type == "azure_blob" and not (
            self.account_name or "connection_string" in self.credentials
        ):
            raise ValueError("an azure_blob datastore needs account_name or a connection_string")
        return self

    def public(self) -> dict[str, Any]:
        """The spec without credential values (only their names)."""
        data = self.to_json()
        data["credentials"] = sorted(self.credentials)
        return data


class ComputeSpec(Spec):
    """A compute target that jobs and deployments run on."""

    model_config = ConfigDict(json_schema_extra=_COMPUTE_RULES)

    name: str = Field(
        description="Compute name (letters, digits, '-').",
        json_schema_extra=COMPUTE_NAME.json_schema(max_length=24),
    )
    type: str = Field(
        default="local",
        description="local | ray. Azure's amlcompute is accepted and runs on this machine "
        "(local); register a Ray cluster with type ray.",
        pattern="^(local|ray|amlcompute)$",
    )
    address: str | None = Field(
        default=None, description="ray: cluster address (ray://host:port or auto)."
    )
    min_instances: int = Field(default=0, ge=0, description="Fewest worker instances kept.")
    max_instances: int = Field(default=1, ge=1, description="Most worker instances used.")
    size: str | None = Field(
        default=None, description="Azure's VM size (STANDARD_DS3_v2): recorded, not used locally."
    )
    tier: str | None = Field(
        default=None, description="Azure's dedicated | low_priority: recorded."
    )
    idle_time_before_scale_down: int | None = Field(
        default=None, ge=0, description="Azure's idle seconds before scaling down: recorded."
    )
    location: str | None = Field(default=None, description="Azure's region (westus): recorded.")
    description: str | None = Field(default=None, description="Free text.")
    tags: dict[str, str] = Field(default_factory=dict, description="Key/value labels.")

    @model_validator(mode="before")
    @classmethod
    def _amlcompute(cls, data: Any) -> Any:
        # Azure's scripts create `--type amlcompute` clusters; Ferry runs them where it can.
        if isinstance(data, dict) and str(data.get("type", "")).lower() == "amlcompute":
            data = {**data, "type": "local"}
        return data

    @field_validator("name")
    @classmethod
    def _name_rule(cls, value: str) -> str:
        return COMPUTE_NAME.check(value)

    @model_validator(mode="after")
    def _bounds(self) -> ComputeSpec:
        if self.min_instances > self.max_instances:
            raise ValueError(
                f"min_instances ({self.min_instances}) exceeds max_instances ({self.max_instances})"
            )
        if self.type == "local" and self.address:
            raise ValueError("'address' is for ray computes; remove it or use --type ray")
        return self
