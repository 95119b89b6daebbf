"""Azure's anonymous inline assets in a deployment: ``model: {path: ...}`` and
``environment: {conda_file: ..., image: ...}`` without a ``name``.

Azure registers such an asset anonymously. Ferry gives it a name after the deployment
(``<endpoint>-<deployment>-model``, ``...-env``) so it is easy to find in ``ferry model list``;
the SDK and CLI then register it and the deployment refers to that version. Online and batch
deployments share this.
"""

from __future__ import annotations

from typing import Any

__all__ = ["name_inline_assets"]


def name_inline_assets(data: Any, kind: str) -> Any:
    """``data`` with a name given to each inline model and environment that has none.

    Args:
        data: a deployment's raw fields (anything else is returned as it is).
        kind: ``online`` or ``batch``, used when the deployment names no endpoint.
    """
    if not isinstance(data, dict):
        return data
    prefix = f"{data.get('endpoint_name') or kind}-{data.get('name', 'deployment')}"
    for key, suffix in (("model", "model"), ("environment", "env")):
        value = data.get(key)
        if isinstance(value, dict) and not value.get("name"):
            data = {**data, key: {**value, "name": f"{prefix}-{suffix}"}}
    return data
