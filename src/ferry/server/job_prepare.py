"""The *Preparing* step of a batch job: resolve everything a job needs into a JobDefinition.

References become local paths (model, code, input data), the environment is built (or reused
from the cache), and per-job overrides are applied to the deployment's settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferry.batch.definition import JobDefinition
from ferry.datastore import Datastore
from ferry.datastore.cloud_url import is_cloud_url
from ferry.errors import InvalidInputError, NotFoundError
from ferry.server.compute_choice import off_machine
from ferry.server.materialise import code_folder as _code
from ferry.server.materialise import environment_python as _environment
from ferry.server.materialise import materialise as _materialise
from ferry.server.paths import path_exists
from ferry.server.secret_env import resolve_secret_refs
from ferry.specs.assets import AssetKind, AssetTypes
from ferry.specs.base import stringify_values
from ferry.specs.batch import BatchDeploymentSettings, BatchDeploymentSpec
from ferry.specs.refs import is_asset_ref
from ferry.specs.scoring import granted_secrets, split_arguments

if TYPE_CHECKING:
    from ferry.server.workspace import Workspace

__all__ = [
    "NUMBER_SETTINGS",
    "OVERRIDABLE",
    "TEXT_SETTINGS",
    "Prepared",
    "apply_overrides",
    "init_timeout_of",
    "prepare_job",
]

#: The whole-number settings an invoke may override, in the order the studio's form shows them.
NUMBER_SETTINGS = (
    "mini_batch_size",
    "instance_count",
    "max_concurrency_per_instance",
    "max_retries",
    "timeout",
    "error_threshold",
)
#: The text settings an invoke may override, in the studio form's order.
TEXT_SETTINGS = ("logging_level", "output_file_name")
#: Settings an invoke may override (``--set``, ``params_override``, ``--mini-batch-size`` ...).
OVERRIDABLE = {
    *NUMBER_SETTINGS,
    *TEXT_SETTINGS,
    "environment_variables",
    "arguments",
    "program_arguments",
    "init_timeout",
}

#: The built-in scorer for MLflow models deployed without code (stdlib file run in the env).
MLFLOW_SCORER = Path(__file__).resolve().parents[1] / "runtime" / "mlflow_scorer.py"


@dataclass
class Prepared:
    """A JobDefinition plus what the user should be told about how it was made."""

    definition: JobDefinition
    notices: list[str] = field(default_factory=list)
    fingerprint: dict[str, Any] = field(default_factory=dict)


def prepare_job(
    workspace: Workspace,
    job: dict[str, Any],
    job_dir: Path,
    log: Callable[[str], None],
) -> Prepared:
    """Resolve the job's deployment, model, code, environment and input into a JobDefinition."""
    spec = workspace.batch.deployment_spec(job["endpoint_name"], job["deployment_name"])
    settings = apply_overrides(spec, job.get("overrides", {}))
    notices: list[str] = []
    fingerprint: dict[str, Any] = {"deployment": spec.to_stored(), "settings": settings}

    model_dir, model_path, model_record = None, None, None
    if isinstance(spec.model, str):
        model_record = workspace.assets.resolve(AssetKind.MODEL, spec.model)
        model_path = _materialise(workspace, model_record, job_dir / "model")
        model_dir = model_path.parent
        fingerprint["model"] = [model_record.name, model_record.version, model_record.content_hash]

    entry_script, code_dir = _code(workspace, spec, job_dir, fingerprint)
    if entry_script is None:
        if model_record is None or model_record.spec.get("type") != AssetTypes.MLFLOW_MODEL:
            raise InvalidInputError(
                "this deployment has no code_configuration and its model is not an mlflow_model; "
                "add code_configuration (code + scoring_script).",
                details={"field": "code_configuration"},
            )
        entry_script, code_dir = str(MLFLOW_SCORER), str(job_dir)
        notices.append("no scoring script: using Ferry's built-in MLflow scorer")

    # Fail in Preparing, with the variable named, if a referenced secret is missing.
    resolve_secret_refs(settings["environment_variables"], workspace.secrets)
    python = _environment(workspace, spec, model_path, log, notices, fingerprint)
    job_input = _inputs(workspace, job["input"], job_dir)
    output_uri = None
    if job_input.store is not None and off_machine(workspace, spec):
        # Workers on a cluster's nodes cannot write to this machine's disk: their files go to
        # the job's output location on a datastore (the input's, unless --output-path says).
        output_uri = job.get("output_path") or job_input.store.uri(f"azureml/{job['name']}/score")
        notices.append(f"output files go to {output_uri}")
    fingerprint["input"] = job["input"]
    definition = JobDefinition(
        name=job["name"],
        inputs=job_input.paths,
        input_listing=job_input.listing,
        datastores=[job_input.store.name] if job_input.store is not None else [],
        output_uri=output_uri,
        input_type=job["input"].get("type", AssetTypes.URI_FOLDER),
        python=python,
        entry_script=entry_script,
        code_dir=code_dir,
        model_dir=str(model_dir) if model_dir else None,
        mini_batch_size=settings["mini_batch_size"],
        instance_count=settings["instance_count"],
        max_concurrency_per_instance=settings["max_concurrency_per_instance"],
        max_retries=settings["max_retries"],
        timeout=float(settings["timeout"]),
        error_threshold=settings["error_threshold"],
        output_action=settings["output_action"],
        output_file_name=settings["output_file_name"],
        logging_level=settings["logging_level"],
        environment_variables=dict(settings["environment_variables"]),
        program_arguments=list(settings["arguments"]),
        init_timeout=init_timeout_of(settings),
        secret_names=granted_secrets(
            spec.properties,
            [spec.effective_settings().environment_variables, settings["environment_variables"]],
        ),
        input_name=str(job["input"].get("name") or "input_data"),
        cpus_per_worker=spec.resources.cpus_per_worker,
        gpus_per_worker=spec.resources.gpus_per_worker,
    )
    return Prepared(definition, notices, fingerprint)


def apply_overrides(spec: BatchDeploymentSpec, overrides: dict[str, Any]) -> dict[str, Any]:
    base: BatchDeploymentSettings = spec.effective_settings()
    merged: dict[str, Any] = {
        "mini_batch_size": base.mini_batch_size,
        "instance_count": spec.effective_instance_count(),
        "max_concurrency_per_instance": base.max_concurrency_per_instance,
        "max_retries": base.retry_settings.max_retries,
        "timeout": base.retry_settings.timeout,
        "error_threshold": base.error_threshold,
        "output_action": base.output_action,
        "output_file_name": base.file_name,
        "logging_level": base.logging_level,
        "environment_variables": dict(base.environment_variables),
        "arguments": list(base.arguments),
        "init_timeout": base.init_timeout,
    }
    unknown = set(overrides) - OVERRIDABLE
    if unknown:
        raise InvalidInputError(
            f"cannot override {', '.join(sorted(unknown))} at invoke; overridable settings are "
            f"{', '.join(sorted(OVERRIDABLE))}.",
            details={"field": "params_override"},
        )
    overrides = dict(overrides)
    if "environment_variables" in overrides:
        # Invoke-time variables add to (and win over) the deployment's, as Azure merges them.
        extra = stringify_values(overrides.pop("environment_variables"))
        if not isinstance(extra, dict):
            raise InvalidInputError(
                "environment_variables must be a mapping of names to values.",
                details={"field": "environment_variables"},
            )
        merged["environment_variables"] = {**merged["environment_variables"], **extra}
    _script_overrides(overrides)
    merged.update(overrides)
    init_timeout_of(merged)  # a bad --first_task_creation_timeout is refused at invoke
    return merged


def init_timeout_of(settings: dict[str, Any]) -> float:
    """``init_timeout``, unless the arguments carry PRS's ``--first_task_creation_timeout N``,
    which ParallelRunStep read from there (so a v1 pipeline's arguments keep their meaning)."""
    words = list(settings["arguments"])
    for i, word in enumerate(words):
        option, eq, value = word.partition("=")
        if option != _PRS_INIT_TIMEOUT:
            continue
        if not eq:
            value = words[i + 1] if i + 1 < len(words) else ""
        try:
            seconds = float(value)
        except ValueError:
            seconds = 0.0
        if not 0 < seconds < float("inf"):  # nan and inf too
            raise InvalidInputError(
                f"arguments: {_PRS_INIT_TIMEOUT} needs a number of seconds above 0, got "
                f"{value!r}; or set settings.init_timeout instead.",
                details={"field": "arguments"},
            )
        return seconds
    return float(settings["init_timeout"])


_PRS_INIT_TIMEOUT = "--first_task_creation_timeout"


def _script_overrides(overrides: dict[str, Any]) -> None:
    """``arguments`` (or v2's ``program_arguments``) as argv words, ``init_timeout`` as seconds."""
    for key in ("program_arguments", "arguments"):
        if key in overrides:
            try:
                overrides["arguments"] = split_arguments(overrides.pop(key), field=key)
            except ValueError as exc:
                raise InvalidInputError(str(exc), details={"field": key}) from exc
    if "init_timeout" in overrides:
        value = overrides["init_timeout"]
        try:
            seconds = int(value)
        except (TypeError, ValueError):
            seconds = 0
        if seconds <= 0 or isinstance(value, bool):
            raise InvalidInputError(
                f"override init_timeout={value!r} must be a whole number of seconds above 0, "
                "e.g. --set init_timeout=300.",
                details={"field": "init_timeout"},
            )
        overrides["init_timeout"] = seconds


@dataclass(frozen=True)
class _Input:
    """Where a job's input is: local paths, or a listing of items on a datastore that the
    workers read through their data agent (``store``)."""

    paths: list[str]
    listing: str | None = None
    store: Datastore | None = None


def _inputs(workspace: Workspace, job_input: dict[str, Any], job_dir: Path) -> _Input:
    path = str(job_input["path"])
    if is_cloud_url(path):  # s3://, abfss:// ...: read through the datastore over that place
        path = workspace.datastores.uri_of(path)
    if path.startswith("file://"):
        local = Path(path.removeprefix("file://"))
        if not path_exists(local, field="input.path"):
            raise NotFoundError(f"input {local} does not exist on the server's machine.")
        return _Input([str(local)])
    if is_asset_ref(path):
        record = workspace.assets.resolve(AssetKind.DATA, path)
        uri = str(record.spec.get("path", ""))
        if not uri.startswith("azureml://") or workspace.assets.local_path(record) is not None:
            return _Input([str(_materialise(workspace, record, job_dir / "inputs"))])
        path = uri  # a data asset on a remote datastore: read where it is, as a URI is
    if path.startswith("azureml://"):
        store, rel = workspace.datastores.resolve(path)
        in_place = store.local_path(rel)
        if in_place is not None:
            if not path_exists(in_place, field="input.path"):
                raise NotFoundError(f"input {path} does not exist.", details={"field": "input"})
            return _Input([str(in_place)])
        return _Input([path], _list_remote(store, rel, job_input, job_dir), store)
    raise InvalidInputError(
        f"input {path!r} is not a data asset, datastore URI or uploaded folder; pass a local "
        "path (the CLI uploads it), azureml:<data>@latest or azureml://datastores/<d>/paths/<p>.",
        details={"field": "input"},
    )


def _list_remote(store: Datastore, rel: str, job_input: dict[str, Any], job_dir: Path) -> str:
    """List the input's files on ``store`` into ``job_dir/input-listing.txt``, one URI a line;
    nothing is downloaded: each worker fetches its mini-batches' files where it runs."""
    uri = store.uri(rel)
    if store.is_dir(rel):
        if job_input.get("type") == AssetTypes.URI_FILE:
            raise InvalidInputError(
                f"input {uri} is a folder but the input type is uri_file; use type uri_folder",
                details={"field": "input.type"},
            )
        items = [store.uri(f"{rel}/{name}" if rel else name) for name in store.list_files(rel)]
    elif store.exists(rel):
        items = [uri]
    else:
        raise NotFoundError(f"input {uri} does not exist.", details={"field": "input"})
    listing = job_dir / "input-listing.txt"
    tmp = listing.with_suffix(".tmp")
    tmp.write_text("".join(item + "\n" for item in items), encoding="utf-8")
    tmp.replace(listing)
    return str(listing)
