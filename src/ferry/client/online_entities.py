"""SDK entities of online endpoints, named as in ``azure.ai.ml.entities``, and the poller.

``ManagedOnlineEndpoint`` / ``ManagedOnlineDeployment`` are the shared specs plus the fields the
server fills in; :class:`Poller` stands in for azure-core's ``LROPoller``.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ferry.client.entities import FriendlyInit, Tracked
from ferry.client.poller import Poller
from ferry.specs import online as _online
from ferry.specs.online import OnlineDeploymentSpec, OnlineEndpointSpec

__all__ = [
    "BatchingSettings",
    "EndpointAuthKeys",
    "EndpointAuthToken",
    "KubernetesOnlineDeployment",
    "KubernetesOnlineEndpoint",
    "ManagedOnlineDeployment",
    "ManagedOnlineEndpoint",
    "OnlineDeployment",
    "OnlineEndpoint",
    "OnlineRequestSettings",
    "Poller",
    "ProbeSettings",
]

T = TypeVar("T")


class OnlineEndpoint(OnlineEndpointSpec, Tracked):
    """``ManagedOnlineEndpoint(name="my-endpoint", auth_mode="key")``, plus server fields."""

    location: str | None = Field(default=None, description="Accepted; not sent.")
    scoring_uri: str | None = Field(default=None, description="POST requests here.")
    openapi_uri: str | None = Field(default=None, description="The swagger document.")
    provisioning_state: str | None = Field(default=None, description="Succeeded.")


class OnlineDeployment(OnlineDeploymentSpec, Tracked):
    """``ManagedOnlineDeployment(name="blue", endpoint_name=..., model=..., ...)``.

    ``model`` and ``environment`` may be registered entities (referred to, not uploaded again),
    inline ones (registered first, anonymously when they have no name) or references.
    """

    #: Keywords azure.ai.ml's constructor takes that the spec folds into code_configuration.
    sdk_shortcuts: ClassVar[tuple[str, ...]] = ("code_path", "scoring_script")

    provisioning_state: str | None = Field(default=None, description="Creating ... Succeeded.")
    error: str | None = Field(default=None, description="Why it failed (with the traceback).")
    replicas: list[dict[str, Any]] = Field(default_factory=list, description="Live replicas.")
    notices: list[str] = Field(default_factory=list, description="How it was prepared.")


class OnlineRequestSettings(_online.OnlineRequestSettings, FriendlyInit):
    """``request_settings=OnlineRequestSettings(request_timeout_ms=90000)``."""


class ProbeSettings(_online.ProbeSettings, FriendlyInit):
    """``liveness_probe=ProbeSettings(initial_delay=30)``."""


class BatchingSettings(_online.BatchingSettings, FriendlyInit):
    """Ferry's dynamic batching: ``batching=BatchingSettings(max_batch_size=8)``."""


ManagedOnlineEndpoint = OnlineEndpoint
KubernetesOnlineEndpoint = OnlineEndpoint
ManagedOnlineDeployment = OnlineDeployment
KubernetesOnlineDeployment = OnlineDeployment


class EndpointAuthKeys(BaseModel):
    """``get_keys`` of an ``auth_mode: key`` endpoint."""

    model_config = ConfigDict(extra="ignore")

    primary_key: str
    secondary_key: str


class EndpointAuthToken(BaseModel):
    """``get_keys`` of an ``auth_mode: aml_token`` endpoint."""

    model_config = ConfigDict(extra="ignore")

    access_token: str
    expiry_time_utc: str
    refresh_after_time_utc: str
    token_type: str = "Bearer"
