"""Which Compute runs a batch job's workers: the one place that picks a backend.

A deployment's ``compute`` names a registered compute. ``local`` (and Azure's ``amlcompute``
clusters, recorded as local) run workers on this machine; a compute of type ``ray`` runs them as
actors on that Ray cluster. ``ferry.backends.ray`` is imported only here and only then, so a
server without the ``ray`` extra runs everything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ferry.batch.compute import Compute
from ferry.errors import NotFoundError, ServerError
from ferry.server.secret_env import SecretAwareCompute
from ferry.specs.batch import BatchDeploymentSpec
from ferry.specs.workspace import LOCAL_COMPUTE

if TYPE_CHECKING:
    from ferry.server.workspace import Workspace

__all__ = ["compute_for"]


def compute_for(
    workspace: Workspace, deployment: BatchDeploymentSpec, secret_env: Mapping[str, str]
) -> Compute:
    """The Compute for ``deployment``'s workers, carrying ``secret_env`` to each of them.

    Raises:
        ServerError: the compute is a Ray cluster and ray is not installed or the cluster
            cannot be reached (the message names the address and the fix).
    """
    name = deployment.compute_name()
    if name == LOCAL_COMPUTE:
        return SecretAwareCompute(secret_env)
    try:
        spec = workspace.computes.get_spec(name)
    except NotFoundError:  # Azure's sample name batch-cluster, unregistered: this machine
        return SecretAwareCompute(secret_env)
    if spec.type != "ray":
        return SecretAwareCompute(secret_env)
    try:
        from ferry.backends import ray as ray_backend
    except ImportError as exc:  # pragma: no cover - the module itself handles a missing ray
        raise ServerError(f"the Ray backend cannot be loaded: {exc}") from exc
    res = deployment.resources
    resources = ray_backend.RayResources(
        cpus=1.0 if res.cpus_per_worker is None else res.cpus_per_worker,
        gpus=res.gpus_per_worker or 0.0,
        memory=ray_backend.parse_memory(res.memory),
    )
    return ray_backend.RayCompute(spec.address or "auto", resources, secret_env)
