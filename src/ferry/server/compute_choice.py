"""Which Compute runs a deployment's workers: the one place that picks a backend.

A batch deployment's ``compute`` names a registered compute. ``local`` (and Azure's
``amlcompute`` clusters, recorded as local) run workers on this machine; a compute of type
``ray`` runs them as actors on that Ray cluster. Online deployments have no ``compute`` and run
their replicas here. ``ferry.backends.ray`` is imported only here and only then, so a server
without the ``ray`` extra runs everything else. Secrets are not the backend's business: they
travel in each :class:`~ferry.workers.spec.WorkerSpec`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferry.backends.gpus import GpuSlots
from ferry.backends.local import LocalCompute
from ferry.errors import NotFoundError, ServerError
from ferry.specs.batch import BatchDeploymentSpec
from ferry.specs.workspace import LOCAL_COMPUTE
from ferry.workers.compute import Compute

if TYPE_CHECKING:
    from ferry.server.workspace import Workspace

__all__ = ["compute_for", "local_compute"]

_INSTALL = "install it with `pip install 'ferry[ray]'` (uv pip install 'ferry[ray]')"

#: This machine's GPUs, shared by every local compute of the server (one server per workspace),
#: so two deployments asking for a GPU each do not both get device 0.
_GPUS = GpuSlots()


def local_compute() -> LocalCompute:
    """Workers as processes on this machine (online replicas, and batch on ``local``)."""
    return LocalCompute(_GPUS)


def compute_for(workspace: Workspace, deployment: BatchDeploymentSpec) -> Compute:
    """The Compute for a batch ``deployment``'s workers.

    Raises:
        ServerError: the compute is a Ray cluster and the Ray backend cannot be loaded, or the
            cluster cannot be reached (the message names the address and the fix).
    """
    name = deployment.compute_name()
    if name == LOCAL_COMPUTE:
        return local_compute()
    try:
        spec = workspace.computes.get_spec(name)
    except NotFoundError:  # Azure's sample name batch-cluster, unregistered: this machine
        return local_compute()
    if spec.type != "ray":
        return local_compute()
    try:
        from ferry.backends import ray as ray_backend
    except ImportError as exc:  # the module exists but cannot load (a broken install)
        raise ServerError(
            f"compute {name!r} is a Ray cluster but the Ray backend cannot be loaded ({exc}); "
            f"{_INSTALL}",
            details={"field": "compute"},
        ) from exc
    res = deployment.resources
    resources = ray_backend.RayResources(
        cpus=1.0 if res.cpus_per_worker is None else res.cpus_per_worker,
        gpus=res.gpus_per_worker or 0.0,
        memory=ray_backend.parse_memory(res.memory),
    )
    return ray_backend.RayCompute(spec.address or "auto", resources)
