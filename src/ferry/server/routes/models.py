"""Response schemas of the control plane (they feed the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ferry.specs.assets import AssetResource

__all__ = [
    "AssetList",
    "ComputeResource",
    "DatastoreResource",
    "Health",
    "ListOf",
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
        # The registry refuses an empty value (with the fix to use); say so in OpenAPI.
        json_schema_extra={"minLength": 1},
    )


def page(items: list[Any], token: str | None) -> dict[str, Any]:
    return {"value": items, "next_page_token": token}
