"""Response schemas of the control plane (they feed the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ferry.specs.assets import AssetResource

__all__ = [
    "AssetList",
    "BatchDeploymentResource",
    "BatchEndpointResource",
    "ComputeResource",
    "DatastoreResource",
    "Health",
    "ListOf",
    "OnlineDeploymentResource",
    "OnlineEndpointResource",
    "SecretResource",
    "SecretValue",
]

T = TypeVar("T")


class ListOf(BaseModel, Generic[T]):
    """One page of a listing."""

    value: list[T] = Field(description="The items of this page.")
    next_page_token: str | None = Field(
        default=None, description="Pass as page_token for the next page; null on the last page."
    )


AssetList = ListOf[AssetResource]


class Health(BaseModel):
    """Liveness of the control plane."""

    status: str = Field(description="'ok' when the server is serving.")
    version: str = Field(description="Ferry version of the server.")


class _Named(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(description="Resource name.")
    type: str = Field(description="Resource type.")
    created_at: datetime = Field(description="Creation time (UTC).")
    updated_at: datetime = Field(description="Last update time (UTC).")


class DatastoreResource(_Named):
    """A datastore; credential values are never returned, only their names."""

    credentials: list[str] = Field(default_factory=list, description="Names of stored credentials.")


class ComputeResource(_Named):
    """A compute target."""


class _Stamped(BaseModel):
    """The spec's fields, flat (as extras), plus what the server adds.

    Routes that return these set ``response_model_exclude_unset``: the body is what the
    service returned, unchanged; the model documents it and checks its core fields.
    """

    model_config = ConfigDict(extra="allow")

    name: str = Field(description="Resource name.")
    created_at: datetime = Field(description="Creation time (UTC).")
    updated_at: datetime = Field(description="Last update time (UTC).")


class BatchEndpointResource(_Stamped):
    """A batch endpoint."""

    scoring_uri: str = Field(description="Where to POST an invocation (starts a job).")
    openapi_uri: str = Field(description="The control plane's OpenAPI document.")
    provisioning_state: str = Field(description="'Succeeded' once stored.")
    defaults: dict[str, str] = Field(
        default_factory=dict, description="defaults.deployment_name: the default deployment."
    )


class BatchDeploymentResource(_Stamped):
    """A batch deployment, its references pinned to versions."""

    endpoint_name: str = Field(description="The endpoint it belongs to.")
    provisioning_state: str = Field(description="'Succeeded' once stored.")


class OnlineEndpointResource(_Stamped):
    """An online endpoint with absolute scoring and swagger URLs."""

    auth_mode: str = Field(description="key | aml_token.")
    scoring_uri: str = Field(description="Where to POST scoring requests.")
    openapi_uri: str = Field(description="The endpoint's swagger document.")
    provisioning_state: str = Field(description="'Succeeded' once stored.")
    traffic: dict[str, int] = Field(description="Deployment name -> percent of live traffic.")
    mirror_traffic: dict[str, int] = Field(description="Deployment name -> percent mirrored.")


class OnlineDeploymentResource(_Stamped):
    """An online deployment; show and list add its live replicas."""

    endpoint_name: str = Field(description="The endpoint it belongs to.")
    provisioning_state: str = Field(description="Creating, Updating, Succeeded, Failed, ...")
    replicas: list[dict[str, Any]] = Field(
        default_factory=list, description="Live replicas (show and list only)."
    )


class SecretResource(BaseModel):
    """A secret's name and timestamps; the value is never returned."""

    name: str = Field(description="Secret name.")
    created_at: datetime = Field(description="Creation time (UTC).")
    updated_at: datetime = Field(description="Last update time (UTC).")


class SecretValue(BaseModel):
    """The body of ``PUT /secrets/{name}``."""

    model_config = ConfigDict(extra="forbid")

    value: str = Field(
        description="The secret value; stored encrypted, never shown again.",
        # The service refuses an empty value (with the fix to use); say so in OpenAPI.
        json_schema_extra={"minLength": 1},
    )


def page(items: list[Any], token: str | None) -> dict[str, Any]:
    return {"value": items, "next_page_token": token}
