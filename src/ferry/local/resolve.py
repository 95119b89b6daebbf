"""Resolve a deployment's YAML into a :class:`~ferry.runtime.local.LocalPlan` without a server.

Model ``path:`` and ``code_configuration.code`` are local folders relative to the YAML (the spec
loader resolves them); registered references (``azureml:model-1@latest``) are downloaded from the
workspace's server when one is running (:data:`Fetch`). ``AZUREML_MODEL_DIR`` is the model's
parent folder, so the script finds the model under its own base name, as in a deployment.
Secrets named by the deployment (``properties.ferry_secrets``, ``${{secrets.X}}`` variables) come
from ``--secret NAME=VALUE``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ferry.errors import InvalidInputError, NotFoundError
from ferry.runtime.local import LocalPlan
from ferry.specs.assets import AssetTypes, ModelSpec
from ferry.specs.batch import BatchDeploymentSpec
from ferry.specs.online import OnlineDeploymentSpec
from ferry.specs.scoring import SECRET_REF, granted_secrets

__all__ = ["Fetch", "batch_plan", "model_path", "online_plan", "parse_secrets"]

#: Downloads a registered asset (``"model"`` or ``"code"``, the ``azureml:`` reference) from the
#: workspace's server and returns its local path; raises when no server can be reached.
Fetch = Callable[[str, str], Path]

#: The built-in scorers for MLflow models deployed without code (as the server uses them).
MLFLOW_SCORER = Path(__file__).resolve().parents[1] / "runtime" / "mlflow_scorer.py"
MLFLOW_ONLINE = Path(__file__).resolve().parents[1] / "runtime" / "mlflow_online.py"


def parse_secrets(pairs: Sequence[str]) -> dict[str, str]:
    """``--secret NAME=VALUE`` options as a mapping.

    Raises:
        InvalidInputError: an item without ``=`` or with an empty name.
    """
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInputError(
                f"--secret {pair!r} is not NAME=VALUE; write for example --secret api-key=abc123.",
                details={"field": "--secret"},
            )
        values[name.strip()] = value
    return values


def _local_ref_error(field: str, value: str, fix: str) -> InvalidInputError:
    return InvalidInputError(
        f"{field} is {value!r}, a registered asset; a local run reads files, not the workspace: "
        f"{fix}",
        details={"field": field},
    )


def model_path(
    spec: OnlineDeploymentSpec | BatchDeploymentSpec, fetch: Fetch | None = None
) -> Path | None:
    """The model's local file or folder (None when the deployment has no model)."""
    model = spec.model
    if model is None:
        return None
    if isinstance(model, str):
        if fetch is not None:
            return fetch("model", model)
        raise _local_ref_error(
            "model",
            model,
            "give the model's local folder in the YAML (model: {path: ./model}) or with "
            "--set model.path=./model.",
        )
    assert isinstance(model, ModelSpec)
    path = Path(model.path)
    if not path.exists():
        raise NotFoundError(
            f"model.path {model.path} does not exist; fix model.path (a path relative to the "
            "YAML file) or pass --set model.path=<folder>.",
            details={"field": "model.path"},
        )
    return path


def _code(
    spec: OnlineDeploymentSpec | BatchDeploymentSpec, model: Path | None, fetch: Fetch | None
) -> tuple[str, str]:
    """(entry script, code folder)."""
    config = spec.code_configuration
    if config is None:
        # Azure's no-code path, as the server takes it: Ferry's built-in scorer for MLflow models.
        # A registered reference is an mlflow_model when its folder has an MLmodel file.
        mlflow = (model is not None and (model / "MLmodel").is_file()) or (
            isinstance(spec.model, ModelSpec) and spec.model.type == AssetTypes.MLFLOW_MODEL
        )
        if mlflow and model is not None:
            scorer = MLFLOW_SCORER if isinstance(spec, BatchDeploymentSpec) else MLFLOW_ONLINE
            return str(scorer), str(model if model.is_dir() else model.parent)
        raise InvalidInputError(
            "the deployment has no code_configuration; add code_configuration: {code: ./code, "
            "scoring_script: score.py} (a deployment of an mlflow_model may leave it out).",
            details={"field": "code_configuration"},
        )
    if config.code.startswith("azureml:"):
        if fetch is None:
            raise _local_ref_error(
                "code_configuration.code",
                config.code,
                "give the code's local folder (code_configuration.code: ./code) or "
                "--set code_configuration.code=./code.",
            )
        folder = fetch("code", config.code)
    else:
        folder = Path(config.code)
    if not folder.is_dir():
        raise NotFoundError(
            f"code_configuration.code {config.code} is not a folder; fix it (a path relative to "
            "the YAML file).",
            details={"field": "code_configuration.code"},
        )
    script = folder / config.scoring_script
    if not script.is_file():
        raise NotFoundError(
            f"scoring_script {config.scoring_script!r} is not in the code folder {folder}; fix "
            "code_configuration.scoring_script (a path relative to code_configuration.code).",
            details={"field": "code_configuration.scoring_script"},
        )
    return str(script.resolve()), str(folder.resolve())


def _secrets(names: Sequence[str], given: Mapping[str, str], command: str) -> dict[str, str]:
    missing = [n for n in names if n not in given]
    if missing:
        shown = " ".join(f"--secret {n}=VALUE" for n in missing)
        raise InvalidInputError(
            f"the deployment grants secret(s) {', '.join(missing)} (properties.ferry_secrets or "
            f"${{{{secrets.X}}}} variables); a local run does not read the workspace's secret "
            f"store: pass {shown} to `{command}`.",
            details={"field": "--secret"},
        )
    return {n: given[n] for n in names}


def _variables(variables: Mapping[str, str], secrets: Mapping[str, str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for name, value in variables.items():
        match = SECRET_REF.match(value)
        env[name] = secrets[match.group(1)] if match else value
    return env


def _common(
    spec: OnlineDeploymentSpec | BatchDeploymentSpec,
    variables: Mapping[str, str],
    given_secrets: Mapping[str, str],
    command: str,
    fetch: Fetch | None,
) -> dict[str, Any]:
    model = model_path(spec, fetch)
    entry_script, code_dir = _code(spec, model, fetch)
    names = granted_secrets(spec.properties, [variables])
    secrets = _secrets(names, given_secrets, command)
    env = _variables(variables, secrets)
    if model is not None:
        env["AZUREML_MODEL_DIR"] = str(model.resolve().parent)
    env["FERRY_ENDPOINT"] = spec.endpoint_name or ""
    env["FERRY_DEPLOYMENT"] = spec.name
    return {
        "name": spec.name,
        "endpoint": spec.endpoint_name or "",
        "entry_script": entry_script,
        "code_dir": code_dir,
        "env": env,
        "secrets": secrets,
        "grant": command,
    }


def online_plan(
    spec: OnlineDeploymentSpec,
    secrets: Mapping[str, str],
    command: str,
    fetch: Fetch | None = None,
) -> LocalPlan:
    """The local plan of an online deployment (``fetch`` resolves registered references)."""
    data = _common(spec, spec.environment_variables, secrets, command, fetch)
    data["env"].setdefault("WORKER_COUNT", str(spec.worker_count))
    if data["entry_script"] == str(MLFLOW_ONLINE):
        # The built-in scorer's swagger comes from the MLmodel signature, read here (it is YAML;
        # the runtime has no YAML parser), as the server reads it.
        from ferry.online.mlflow_swagger import signature_schemas

        data["schemas"] = signature_schemas(Path(data["code_dir"]))
    return LocalPlan({"mode": "online", **data})


def batch_plan(
    spec: BatchDeploymentSpec,
    inputs: Sequence[Path],
    output_dir: Path,
    secrets: Mapping[str, str],
    command: str,
    fetch: Fetch | None = None,
) -> LocalPlan:
    """The local plan of a batch deployment over ``inputs`` (files or folders)."""
    for path in inputs:
        if not path.exists():
            raise NotFoundError(
                f"--input {path} does not exist; pass a local file or folder to score.",
                details={"field": "--input"},
            )
    settings = spec.effective_settings()
    data = _common(spec, settings.environment_variables, secrets, command, fetch)
    data["env"]["AZUREML_BI_OUTPUT_PATH"] = str(output_dir)
    # EntryScript().log_dir, beside the outputs rather than in a job folder's logs/user/.
    data["env"]["FERRY_LOG_DIR"] = str(output_dir / "logs" / "entry_script_log" / "local")
    if inputs:  # Run.input_datasets of the azureml.core shim, as a job's workers get it
        data["env"]["FERRY_INPUT_DATASETS"] = json.dumps({"input_data": str(inputs[0].resolve())})
    data["user_args"] = list(settings.arguments)
    data["logging_level"] = settings.logging_level
    data["settings"] = {
        "inputs": [str(p.resolve()) for p in inputs],
        "output_dir": str(output_dir),
        "mini_batch_size": settings.mini_batch_size,
        "error_threshold": settings.error_threshold,
        "output_action": settings.output_action,
        "output_file_name": settings.file_name,
    }
    return LocalPlan({"mode": "batch", **data})
