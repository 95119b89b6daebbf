"""Ferry: self-hosted model deployment with Azure ML's concepts.

The SDK names are imported lazily so that ``import ferry.store`` (or the worker runtime, which
runs in the user's environment) stays light.
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING: importing typing costs a batch worker ~10 ms at every start, and
# type checkers treat a constant of this name the same way.
TYPE_CHECKING = False

__version__ = "0.1.0"

__all__ = [
    "AmlCompute",
    "AssetTypes",
    "BatchDeployment",
    "BatchDeploymentOutputAction",
    "BatchEndpoint",
    "BatchEndpointDefaults",
    "BatchJob",
    "BatchRetrySettings",
    "BatchingSettings",
    "BuildContext",
    "Code",
    "CodeConfiguration",
    "Compute",
    "Data",
    "Datastore",
    "EndpointAuthKeys",
    "EndpointAuthToken",
    "Environment",
    "Input",
    "InputOutputModes",
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
    "Output",
    "ProbeSettings",
    "ResourceConfiguration",
    "SystemData",
    "load_batch_deployment",
    "load_batch_endpoint",
    "load_compute",
    "load_data",
    "load_environment",
    "load_model",
    "load_online_deployment",
    "load_online_endpoint",
]

if TYPE_CHECKING:
    from typing import Any

    from ferry.client import (
        AmlCompute,
        AssetTypes,
        BatchDeployment,
        BatchDeploymentOutputAction,
        BatchEndpoint,
        BatchEndpointDefaults,
        BatchingSettings,
        BatchJob,
        BatchRetrySettings,
        BuildContext,
        Code,
        CodeConfiguration,
        Compute,
        Data,
        Datastore,
        EndpointAuthKeys,
        EndpointAuthToken,
        Environment,
        Input,
        InputOutputModes,
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
        Output,
        ProbeSettings,
        ResourceConfiguration,
        SystemData,
        load_batch_deployment,
        load_batch_endpoint,
        load_compute,
        load_data,
        load_environment,
        load_model,
        load_online_deployment,
        load_online_endpoint,
    )


def __getattr__(name: str) -> Any:
    if name in __all__:
        import ferry.client

        return getattr(ferry.client, name)
    raise AttributeError(f"module 'ferry' has no attribute {name!r}")
