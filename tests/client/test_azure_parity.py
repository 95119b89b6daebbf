"""Ferry's SDK takes the parameter names ``azure-ai-ml`` takes, for the names Azure's samples use.

``azure-ai-ml`` (the dev extra) is introspected, never run. For each class, function and
operation method below, every parameter of Azure's signature must be one Ferry accepts, or be
listed in ``DIFFERENCES`` with the reason Ferry differs on purpose.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from collections.abc import Callable
from typing import Any

import pytest

import ferry
from ferry.client import batch, online, operations
from ferry.client.ml_client import MLClient

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    azure_ml = importlib.import_module("azure.ai.ml")
    azure_entities = importlib.import_module("azure.ai.ml.entities")
    azure_constants = importlib.import_module("azure.ai.ml.constants")
    azure_operations = importlib.import_module("azure.ai.ml.operations")

#: Classes, by the name both SDKs give them.
CLASSES = [
    "AmlCompute",
    "BatchDeployment",
    "BatchEndpoint",
    "BatchRetrySettings",
    "BuildContext",
    "CodeConfiguration",
    "Data",
    "Environment",
    "Input",
    "KubernetesOnlineDeployment",
    "KubernetesOnlineEndpoint",
    "ManagedOnlineDeployment",
    "ManagedOnlineEndpoint",
    "Model",
    "ModelBatchDeployment",
    "ModelBatchDeploymentSettings",
    "OnlineRequestSettings",
    "Output",
    "ProbeSettings",
    "ResourceConfiguration",
]
LOADERS = [
    "load_batch_deployment",
    "load_batch_endpoint",
    "load_compute",
    "load_data",
    "load_environment",
    "load_model",
    "load_online_deployment",
    "load_online_endpoint",
]
CONSTANTS = ["AssetTypes", "BatchDeploymentOutputAction", "InputOutputModes"]
#: (Azure's operations class, Ferry's, the methods samples call).
OPERATIONS: list[tuple[str, type[Any], list[str]]] = [
    (
        "BatchEndpointOperations",
        batch.BatchEndpointOperations,
        ["begin_create_or_update", "get", "list", "begin_delete", "invoke", "list_jobs"],
    ),
    (
        "BatchDeploymentOperations",
        batch.BatchDeploymentOperations,
        ["begin_create_or_update", "get", "list", "begin_delete", "list_jobs"],
    ),
    ("JobOperations", batch.JobOperations, ["get", "list", "stream", "download", "begin_cancel"]),
    (
        "OnlineEndpointOperations",
        online.OnlineEndpointOperations,
        ["begin_create_or_update", "get", "list", "begin_delete", "get_keys", "invoke"],
    ),
    (
        "OnlineDeploymentOperations",
        online.OnlineDeploymentOperations,
        ["begin_create_or_update", "get", "list", "begin_delete", "get_logs"],
    ),
    (
        "ModelOperations",
        operations.AssetOperations,
        ["create_or_update", "get", "list", "download", "archive", "restore"],
    ),
    ("DataOperations", operations.AssetOperations, ["create_or_update", "get", "list"]),
    ("EnvironmentOperations", operations.AssetOperations, ["create_or_update", "get", "list"]),
    (
        "ComputeOperations",
        operations.ComputeOperations,
        ["begin_create_or_update", "get", "list", "begin_delete"],
    ),
    ("DatastoreOperations", operations.DatastoreOperations, ["get", "list", "get_default"]),
]

_NO_REGISTRY = "Ferry has no Azure registries"
_ONE_ASSET_CLASS = (
    "one AssetOperations serves models, data and environments, so the first argument is named "
    "'asset'; every Azure sample passes it positionally"
)
#: Where Ferry differs on purpose: "<name>.<parameter>" -> why.
DIFFERENCES = {
    "Input.path_on_compute": "pipeline inputs; a batch invoke's input is read where it is",
    "Input.default": "literal pipeline inputs; batch invokes take data",
    "Input.optional": "literal pipeline inputs; batch invokes take data",
    "Input.min": "literal pipeline inputs; batch invokes take data",
    "Input.max": "literal pipeline inputs; batch invokes take data",
    "Input.enum": "literal pipeline inputs; batch invokes take data",
    "Input.datastore": "the datastore is part of an azureml://datastores/... path",
    "ResourceConfiguration.properties": "Azure passes them to its compute; Ferry's has none",
    "KubernetesOnlineEndpoint.compute": "no Kubernetes clusters are attached; replicas are local",
    "Environment.datastore": "environments are built from their files, not read from a store",
    "Model.utc_time_created": "set by the server (creation_context.created_at)",
    "Model.default_deployment_template": _NO_REGISTRY,
    "Model.allowed_deployment_templates": _NO_REGISTRY,
    "MLClient.registry_name": _NO_REGISTRY,
    "ModelOperations.create_or_update.model": _ONE_ASSET_CLASS,
    "DataOperations.create_or_update.data": _ONE_ASSET_CLASS,
    "EnvironmentOperations.create_or_update.environment": _ONE_ASSET_CLASS,
    "OnlineEndpointOperations.invoke.input_data": "the request is request_file= or body=",
    "OnlineEndpointOperations.invoke.params_override": "Azure's is for its local endpoints",
    "OnlineDeploymentOperations.begin_create_or_update.vscode_debug": (
        "Azure's local Docker debugging; Ferry's replicas run as local processes already"
    ),
    "OnlineDeploymentOperations.begin_create_or_update.local_enable_gpu": (
        "Azure's local Docker mode; Ferry's replicas see the machine's GPUs"
    ),
    "DatastoreOperations.get.include_secrets": "credentials never leave the server",
    "DatastoreOperations.list.include_secrets": "credentials never leave the server",
    "DatastoreOperations.get_default.include_secrets": "credentials never leave the server",
}


def _names(func: Callable[..., Any]) -> list[str]:
    return [
        name
        for name, p in inspect.signature(func).parameters.items()
        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]


def _missing(
    where: str,
    azure: Callable[..., Any],
    ours: Callable[..., Any],
    extra: tuple[str, ...] = (),
) -> list[str]:
    accepted = set(_names(ours)) | set(extra)
    return [
        f"{where}.{name}"
        for name in _names(azure)
        if name not in accepted and f"{where}.{name}" not in DIFFERENCES
    ]


def _azure_class(name: str) -> Any:
    return getattr(azure_entities, name, None) or getattr(azure_ml, name)


@pytest.mark.parametrize("name", CLASSES)
def test_constructors_take_azure_parameter_names(name: str) -> None:
    ours = getattr(ferry, name)
    shortcuts = getattr(ours, "sdk_shortcuts", ())
    assert _missing(name, _azure_class(name).__init__, ours, shortcuts) == []


@pytest.mark.parametrize("name", LOADERS)
def test_load_functions_take_azure_parameter_names(name: str) -> None:
    assert _missing(name, getattr(azure_ml, name), getattr(ferry, name)) == []


@pytest.mark.parametrize(("azure_name", "ours", "methods"), OPERATIONS)
def test_operations_take_azure_parameter_names(
    azure_name: str, ours: type[Any], methods: list[str]
) -> None:
    azure = getattr(azure_operations, azure_name)
    missing: list[str] = []
    for method in methods:
        assert hasattr(ours, method), f"{ours.__name__} has no {method}()"
        missing += _missing(f"{azure_name}.{method}", getattr(azure, method), getattr(ours, method))
    assert missing == []


def test_ml_client_takes_azure_parameter_names() -> None:
    missing = _missing("MLClient", azure_ml.MLClient.__init__, MLClient.__init__)
    for method in ("begin_create_or_update", "create_or_update"):
        missing += _missing(
            f"MLClient.{method}", getattr(azure_ml.MLClient, method), getattr(MLClient, method)
        )
    assert missing == []


@pytest.mark.parametrize("name", CONSTANTS)
def test_constants_have_azure_values(name: str) -> None:
    from ferry import constants

    azure, ours = getattr(azure_constants, name), getattr(constants, name)
    values = {k: getattr(azure, k) for k in dir(azure) if k.isupper()}
    assert {k: getattr(ours, k, None) for k in values} == {k: str(v) for k, v in values.items()}


def test_every_listed_name_is_importable_where_azure_has_it() -> None:
    from ferry import constants, entities

    for name in CLASSES:
        where = entities if hasattr(azure_entities, name) else ferry
        assert hasattr(where, name), f"ferry.{where.__name__.split('.')[-1]} lacks {name}"
    for name in CONSTANTS:
        assert hasattr(constants, name)


def test_differences_are_still_differences() -> None:
    """A difference Ferry has since closed is taken off the list."""
    stale = []
    for key in DIFFERENCES:
        *owner, param = key.split(".")
        if owner[0] in CLASSES:
            ours: Any = getattr(ferry, owner[0])
        elif owner[0] == "MLClient":
            ours = MLClient if len(owner) == 1 else getattr(MLClient, owner[1])
        else:
            cls = next(o for a, o, _ in OPERATIONS if a == owner[0])
            ours = getattr(cls, owner[1])
        if param in _names(ours):
            stale.append(key)
    assert stale == []
