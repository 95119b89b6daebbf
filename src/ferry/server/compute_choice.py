"""Which Compute runs a deployment's workers: the one place that picks a backend.

A batch deployment's ``compute`` names a registered compute. ``local`` (and Azure's
``amlcompute`` clusters, recorded as local) run workers on this machine; a compute of type
``ray`` runs them as actors on that Ray cluster. An online deployment's replicas run here unless
its (Ferry-only) ``compute`` names a registered Ray compute. ``ferry.backends.ray`` is imported
only here and only then, so a server without the ``ray`` extra runs everything else. Secrets
are not the backend's business: they travel in each :class:`~ferry.workers.spec.WorkerSpec`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferry.backends.gpus import GpuSlots
from ferry.backends.local import LocalCompute
from ferry.errors import InvalidInputError, NotFoundError, ServerError
from ferry.specs.batch import BatchDeploymentSpec
from ferry.specs.online import OnlineDeploymentSpec
from ferry.specs.workspace import LOCAL_COMPUTE, ComputeSpec
from ferry.workers.compute import Compute

if TYPE_CHECKING:
    from ferry.server.workspace import Workspace

__all__ = ["compute_for", "local_compute", "off_machine", "online_compute_for"]

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
    res = deployment.resources
    return _compute_of(spec, name, res.cpus_per_worker, res.gpus_per_worker, res.memory)


def off_machine(workspace: Workspace, deployment: BatchDeploymentSpec) -> bool:
    """Whether the batch ``deployment``'s workers run off this machine (on a Ray cluster's
    nodes), where the server's disk is not theirs: decided from the registered compute, without
    connecting to it."""
    name = deployment.compute_name()
    if name == LOCAL_COMPUTE:
        return False
    try:
        return workspace.computes.get_spec(name).type == "ray"
    except NotFoundError:
        return False


def online_compute_for(workspace: Workspace, deployment: OnlineDeploymentSpec) -> Compute:
    """The Compute for an online ``deployment``'s replicas. On a Ray cluster each replica asks
    for Kubernetes' ``resources.requests`` ``cpu`` (``500m`` or ``2``; default 1) and ``memory``
    (``512Mi``); its GPUs (``nvidia.com/gpu``) travel in its own WorkerSpec, as locally.

    Raises:
        InvalidInputError: ``compute`` names no registered compute (there is no sample name
            that stands for this machine here, as ``batch-cluster`` does for batch), or a
            request is not a quantity (the field is named).
        ServerError: as :func:`compute_for`.
    """
    name = deployment.compute_name()
    if name is None or name == LOCAL_COMPUTE:
        return local_compute()
    try:
        spec = workspace.computes.get_spec(name)
    except NotFoundError:
        raise InvalidInputError(
            f"compute {name!r} of online deployment {deployment.name!r} is not registered; "
            f"register the cluster (ferry compute create --name {name} --type ray --address "
            "ray://<head>:10001) or leave compute out to run the replicas on the server's machine",
            details={"field": "compute"},
        ) from None
    requests = (deployment.resources or {}).get("requests")
    requests = requests if isinstance(requests, dict) else {}
    cpus = _kubernetes_cpus(requests.get("cpu"))
    memory = requests.get("memory")
    memory_text = None if memory is None else str(memory)
    return _compute_of(spec, name, cpus, None, memory_text, "resources.requests.memory")


def _kubernetes_cpus(value: object) -> float | None:
    """Kubernetes' CPU quantity: ``2``, ``0.5`` or millicores ``500m``.

    Raises:
        InvalidInputError: it is none of those.
    """
    if value is None:
        return None
    text = str(value).strip()
    try:
        cpus = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        cpus = -1.0
    if cpus <= 0:
        raise InvalidInputError(
            f"resources.requests.cpu {value!r} is not a CPU quantity; write e.g. 1, 0.5 or 500m",
            details={"field": "resources.requests.cpu"},
        )
    return cpus


def _compute_of(
    spec: ComputeSpec,
    name: str,
    cpus: float | None,
    gpus: float | None,
    memory: str | int | None,
    memory_field: str = "resources.memory",
) -> Compute:
    """The Compute of a registered compute ``spec`` (``name``), with what each worker asks for
    by default; ``memory_field`` names where ``memory`` was written, for its error."""
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
    try:
        memory_bytes = ray_backend.parse_memory(memory)
    except InvalidInputError:
        raise InvalidInputError(
            f"{memory_field} {memory!r} is not a size; write bytes or e.g. 512Mi, 4Gi, 2G",
            details={"field": memory_field},
        ) from None
    resources = ray_backend.RayResources(
        cpus=1.0 if cpus is None else cpus, gpus=gpus or 0.0, memory=memory_bytes
    )
    return ray_backend.RayCompute(spec.address or "auto", resources)
