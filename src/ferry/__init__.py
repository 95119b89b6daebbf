"""Ferry: self-hosted model deployment with Azure ML's concepts.

The SDK names are imported lazily so that ``import ferry.store`` (or the worker runtime, which
runs in the user's environment) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "AssetTypes",
    "BatchDeployment",
    "BatchEndpoint",
    "BatchRetrySettings",
    "BatchingSettings",
    "BuildContext",
    "CodeConfiguration",
    "Compute",
    "Data",
    "Datastore",
    "EndpointAuthKeys",
    "EndpointAuthToken",
    "Environment",
    "Input",
    "KubernetesOnlineDeployment",
    "KubernetesOnlineEndpoint",
    "MLClient",
    "ManagedOnlineDeployment",
    "ManagedOnlineEndpoint",
    "Model",
    "ModelBatchDeployment",
    "ModelBatchDeploymentSettings",
    "OnlineDeployment",
    "OnlineEndpoint",
    "OnlineRequestSettings",
    "ProbeSettings",
]

if TYPE_CHECKING:
    from ferry.client import (
        AssetTypes,
        BatchDeployment,
        BatchEndpoint,
        BatchingSettings,
        BatchRetrySettings,
        BuildContext,
        CodeConfiguration,
        Compute,
        Data,
        Datastore,
        EndpointAuthKeys,
        EndpointAuthToken,
        Environment,
        Input,
        KubernetesOnlineDeployment,
        KubernetesOnlineEndpoint,
        ManagedOnlineDeployment,
        ManagedOnlineEndpoint,
        MLClient,
        Model,
        ModelBatchDeployment,
        ModelBatchDeploymentSettings,
        OnlineDeployment,
        OnlineEndpoint,
        OnlineRequestSettings,
        ProbeSettings,
    )


def __getattr__(name: str) -> Any:
    if name in __all__:
        import ferry.client

        return getattr(ferry.client, name)
    raise AttributeError(f"module 'ferry' has no attribute {name!r}")
