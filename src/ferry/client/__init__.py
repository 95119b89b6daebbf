"""Ferry's Python SDK, mirroring ``azure.ai.ml``: ``from ferry import MLClient, Model``."""

from ferry.client.batch import (
    BatchDeployment,
    BatchEndpoint,
    BatchJob,
    BatchRetrySettings,
    ModelBatchDeployment,
    ModelBatchDeploymentSettings,
)
from ferry.client.entities import (
    AssetTypes,
    BuildContext,
    Code,
    CodeConfiguration,
    Compute,
    Data,
    Datastore,
    Environment,
    Input,
    Model,
)
from ferry.client.ml_client import MLClient

__all__ = [
    "AssetTypes",
    "BatchDeployment",
    "BatchEndpoint",
    "BatchJob",
    "BatchRetrySettings",
    "BuildContext",
    "Code",
    "CodeConfiguration",
    "Compute",
    "Data",
    "Datastore",
    "Environment",
    "Input",
    "MLClient",
    "Model",
    "ModelBatchDeployment",
    "ModelBatchDeploymentSettings",
]
