"""Ferry: self-hosted model deployment with Azure ML's concepts.

The SDK entry points are imported lazily so that ``import ferry.store`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_SDK_NAMES = {
    "MLClient",
    "Model",
    "Data",
    "Environment",
    "BuildContext",
    "CodeConfiguration",
    "Input",
    "AssetTypes",
    "Datastore",
    "Compute",
}

if TYPE_CHECKING:
    from ferry.client import (
        AssetTypes,
        BuildContext,
        CodeConfiguration,
        Compute,
        Data,
        Datastore,
        Environment,
        Input,
        MLClient,
        Model,
    )

__all__ = sorted(_SDK_NAMES)


def __getattr__(name: str) -> Any:
    if name in _SDK_NAMES:
        import ferry.client

        return getattr(ferry.client, name)
    raise AttributeError(f"module 'ferry' has no attribute {name!r}")
