"""Resolve an online deployment into a :class:`~ferry.online.plan.ReplicaPlan`.

The same steps as a batch job's *Preparing* (shared in :mod:`ferry.server.materialise`): the
model and code become local folders, the environment is built (or reused, or the server's own
interpreter with ``ferry:server-python``), and ``${{secrets.NAME}}`` references in
``environment_variables`` are resolved in memory into the replicas' ``secret_env``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferry.errors import InvalidInputError
from ferry.online.mlflow_swagger import signature_schemas
from ferry.online.plan import ReplicaPlan
from ferry.online.swagger import USER_SWAGGER_FILES, user_swagger
from ferry.server.compute_choice import online_compute_for
from ferry.server.materialise import code_folder, environment_python, materialise
from ferry.server.secret_env import keyvault_env, resolve_secret_refs
from ferry.specs.assets import AssetKind
from ferry.specs.online import OnlineDeploymentSpec
from ferry.specs.scoring import granted_secrets
from ferry.workers.spec import WorkerResources, WorkerSpec

if TYPE_CHECKING:
    from ferry.server.workspace import Workspace

__all__ = ["MLFLOW_ONLINE_SCORER", "prepare_deployment", "replica_resources"]

#: Kubernetes' name for a GPU request, as Azure's KubernetesOnlineDeployment writes it.
_GPU = "nvidia.com/gpu"

#: The built-in online scorer for MLflow models deployed without code (run in the model's env).
MLFLOW_ONLINE_SCORER = Path(__file__).resolve().parents[1] / "runtime" / "mlflow_online.py"


def prepare_deployment(
    workspace: Workspace,
    endpoint: str,
    spec: OnlineDeploymentSpec,
    log: Callable[[str], None],
) -> ReplicaPlan:
    """Everything a replica of ``spec`` is started with (blocking: may build an environment)."""
    folder = workspace.layout.root / "online" / endpoint / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    # First: an unregistered compute or an unreachable cluster fails before any build.
    compute = online_compute_for(workspace, spec)
    if spec.compute_name() is not None:
        log(f"compute {spec.compute_name()}: replicas run through {type(compute).__name__}")
    notices: list[str] = []
    fingerprint: dict[str, Any] = {}
    env: dict[str, str] = {}
    model_path: Path | None = None
    if isinstance(spec.model, str):
        record = workspace.assets.resolve(AssetKind.MODEL, spec.model)
        model_path = materialise(workspace, record, folder / "model")
        # Azure's layout: AZUREML_MODEL_DIR holds the model under its own base name.
        env["AZUREML_MODEL_DIR"] = str(model_path.parent)
        log(f"model {record.name}:{record.version} at {model_path}")
    entry_script, code_dir = code_folder(workspace, spec, folder, fingerprint)
    schemas: dict[str, Any] | None = None
    if entry_script is None:
        if model_path is None:  # the services layer lets only an mlflow_model through without code
            raise InvalidInputError(
                "this deployment has no code_configuration and no model; add code_configuration "
                "(code + scoring_script).",
                details={"field": "code_configuration"},
            )
        entry_script, code_dir = str(MLFLOW_ONLINE_SCORER), str(folder)
        schemas = signature_schemas(model_path)
        notices.append("no scoring script: using Ferry's built-in MLflow scorer")
    log(f"scoring script {entry_script}")
    for version in USER_SWAGGER_FILES:
        # Read now so that a broken file fails the deployment, as it stops azmlinfsrv starting.
        own = user_swagger(code_dir, version)
        if own is not None:
            notices.append(f"swagger version {version}: serving {own[0]} from the code folder")
    python = environment_python(workspace, spec, model_path, log, notices, fingerprint)
    log(f"interpreter {python}")
    env.update(spec.environment_variables)
    # Secrets stay out of ``env``: a secret reference's value replaces the reference.
    secret_env = resolve_secret_refs(spec.environment_variables, workspace.secrets)
    for var in secret_env:
        env.pop(var, None)
    # The Key Vault shim's secrets, and the command its refusal quotes to grant another.
    granted = granted_secrets(spec.properties, [spec.environment_variables])
    grant = f"ferry online-deployment update --endpoint-name {endpoint} --name {spec.name}"
    secret_env.update(keyvault_env(granted, workspace.secrets, grant))
    env.setdefault("WORKER_COUNT", str(spec.worker_count))
    env["AZUREML_ENTRY_SCRIPT"] = entry_script
    env["AML_APP_ROOT"] = code_dir
    env["FERRY_ENDPOINT"] = endpoint
    env["FERRY_DEPLOYMENT"] = spec.name
    worker = WorkerSpec(
        worker_id=spec.name,  # each replica names its own
        python=python,
        entry_script=entry_script,
        code_dir=code_dir,
        connect="",  # the online service's socket, filled in per replica
        mode="online",
        env=env,
        secret_env=secret_env,
        resources=replica_resources(spec.resources),
    )
    return ReplicaPlan(
        worker=worker,
        compute=compute,
        folder=folder,
        notices=tuple(notices),
        schemas=schemas,
    )


def replica_resources(resources: dict[str, Any] | None) -> WorkerResources:
    """What each replica reserves, from Azure's Kubernetes ``resources``: the GPUs of
    ``requests`` (else ``limits``) ``nvidia.com/gpu``, which give each replica its own devices
    on this machine. CPU and memory requests are accepted and not enforced locally; on a Ray
    compute they are the actor's (:func:`~ferry.server.compute_choice.online_compute_for`).

    Raises:
        InvalidInputError: ``nvidia.com/gpu`` is not a number.
    """
    for part in ("requests", "limits"):
        section = (resources or {}).get(part)
        value = section.get(_GPU) if isinstance(section, dict) else None
        if value is None:
            continue
        try:
            gpus = float(value)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"resources.{part}.{_GPU} must be a number of GPUs, got {value!r}",
                details={"field": f"resources.{part}.{_GPU}"},
            ) from None
        return WorkerResources(gpus=gpus)
    return WorkerResources()
