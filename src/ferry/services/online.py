"""Online endpoints and their deployments, stored as named resources; keys in the vault.

A deployment is stored with references only (``azureml:model:3``, ``azureml:code-…:1``,
``azureml:env:2``): the SDK registers inline models, code folders and environments first. The
record also holds the deployment's ``provisioning_state`` and ``error``, written by the online
service as replicas come up, so ``show`` tells the truth after a server restart too.
"""

from __future__ import annotations

import builtins
import contextlib
import json
from typing import Any

from ferry.errors import ConflictError, InvalidInputError, NotFoundError, SpecError
from ferry.online.keys import EndpointCredentials
from ferry.services.assets import AssetService
from ferry.services.references import SERVER_PYTHON, pin_references
from ferry.services.scoring_check import check_scoring_script
from ferry.services.secrets import SecretService
from ferry.specs.assets import AssetKind, AssetTypes
from ferry.specs.loader import spec_from_data
from ferry.specs.online import OnlineDeploymentSpec, OnlineEndpointSpec
from ferry.specs.states import DeploymentState
from ferry.store.base import NamedRepository

__all__ = ["OnlineEndpointService"]

_ENDPOINT = "online-endpoint"
_DEPLOYMENT = "online-deployment"
_STATE_FIELDS = ("provisioning_state", "error")
_SECRET = "online-endpoint/{}"  # the endpoint's keys, encrypted in the vault
_NEEDS_CODE = (
    "an online deployment needs code_configuration (code + scoring_script, a score.py with "
    "init() and run()), unless its model is an mlflow_model (then Ferry's built-in MLflow "
    "scorer serves it); add code_configuration, or register the model with type: mlflow_model."
)
_NEEDS_ENV = (
    "an online deployment needs an environment: azureml:<env>@latest, an inline environment "
    f"(conda_file/image), or {SERVER_PYTHON} for the server's own Python."
)
_NEEDS_ENV_WITH_CODE = (
    "an online deployment with code_configuration needs an environment, also for an "
    "mlflow_model (as on Azure): azureml:<env>@latest, an inline environment (conda_file/image), "
    f"or {SERVER_PYTHON}; or leave out code_configuration to use the model's own environment "
    "and Ferry's built-in MLflow scorer."
)


class OnlineEndpointService:
    """Create, update, show, list and delete online endpoints, deployments and keys."""

    def __init__(self, repo: NamedRepository, assets: AssetService, secrets: SecretService) -> None:
        self._repo = repo
        self._assets = assets
        self._secrets = secrets

    # -- endpoints ------------------------------------------------------------------------------
    def put_endpoint(self, spec: OnlineEndpointSpec) -> tuple[dict[str, Any], bool]:
        """Create or update; ``traffic``/``mirror_traffic`` left out keep their current value."""
        try:
            current: OnlineEndpointSpec | None = self.endpoint_spec(spec.name)
        except NotFoundError:
            current = None
        data = spec.to_json()
        for key in ("traffic", "mirror_traffic"):
            if data.get(key) is None:
                data[key] = getattr(current, key, None) or {}
        merged = spec_from_data(OnlineEndpointSpec, data)  # re-checks the merged split
        names = {d["name"] for d in self.list_deployments(spec.name)} if current else set()
        for key in ("traffic", "mirror_traffic"):
            for name, percent in (getattr(merged, key) or {}).items():
                if percent and name not in names:
                    raise NotFoundError(
                        f"{key} names deployment {name!r}, which endpoint {spec.name!r} does not "
                        f"have (it has: {', '.join(sorted(names)) or 'none'}); create the "
                        "deployment first, then set its traffic.",
                        details={"field": key},
                    )
        stored = merged.to_json()
        stored["traffic"] = {k: v for k, v in (merged.traffic or {}).items() if v}
        stored["mirror_traffic"] = {k: v for k, v in (merged.mirror_traffic or {}).items() if v}
        record, created = self._repo.put(_ENDPOINT, spec.name, stored)
        if created:
            self._save_credentials(spec.name, EndpointCredentials.generate())
        return self._endpoint_view(record), created

    def endpoint(self, name: str) -> dict[str, Any]:
        return self._endpoint_view(self._endpoint_record(name))

    def endpoint_spec(self, name: str) -> OnlineEndpointSpec:
        return OnlineEndpointSpec.model_validate(self._endpoint_record(name).spec)

    def list_endpoints(self) -> builtins.list[dict[str, Any]]:
        return [self._endpoint_view(r) for r in self._repo.all(_ENDPOINT)]

    def delete_endpoint(self, name: str) -> builtins.list[str]:
        """Delete the endpoint, its deployments and its keys; returns the deployments' names."""
        self._endpoint_record(name)
        removed = [d["name"] for d in self.list_deployments(name)]
        for deployment in removed:
            self._repo.delete(_DEPLOYMENT, _key(name, deployment))
        self._repo.delete(_ENDPOINT, name)
        with contextlib.suppress(NotFoundError):
            self._secrets.delete_internal(_SECRET.format(name))
        return removed

    def set_traffic(self, endpoint: str, traffic: dict[str, int]) -> dict[str, Any]:
        data = {**self.endpoint_spec(endpoint).to_json(), "traffic": traffic}
        return self.put_endpoint(spec_from_data(OnlineEndpointSpec, data))[0]

    def _endpoint_record(self, name: str) -> Any:
        return self._get(_ENDPOINT, name, f"online endpoint {name!r}", "ferry online-endpoint list")

    def _endpoint_view(self, record: Any) -> dict[str, Any]:
        spec = dict(record.spec)
        name = spec["name"]
        deployments = [r.name.split("/", 1)[1] for r in self._deployment_records(name)]
        traffic = {d: 0 for d in sorted(deployments)} | dict(spec.get("traffic") or {})
        return {
            **spec,
            "traffic": traffic,
            "mirror_traffic": dict(spec.get("mirror_traffic") or {}),
            "scoring_uri": f"/endpoints/{name}/score",
            "openapi_uri": f"/endpoints/{name}/swagger.json",
            "provisioning_state": DeploymentState.SUCCEEDED.value,
            "created_at": record.created_at,
            "updated_at": record.updated_at,
        }

    # -- credentials ----------------------------------------------------------------------------
    def credentials(self, name: str) -> EndpointCredentials:
        self._endpoint_record(name)
        try:
            return EndpointCredentials.from_json(
                json.loads(self._secrets.reveal_internal(_SECRET.format(name)))
            )
        except NotFoundError:  # e.g. a record restored without its keys: issue new ones
            creds = EndpointCredentials.generate()
            self._save_credentials(name, creds)
            return creds

    def regenerate_key(self, name: str, key_type: str) -> EndpointCredentials:
        if key_type not in ("primary", "secondary"):
            raise InvalidInputError(
                f"key_type {key_type!r} is not primary or secondary.",
                details={"field": "key_type"},
            )
        if self.endpoint_spec(name).auth_mode != "key":
            # 409: a well-formed request that the endpoint's auth mode rules out.
            raise ConflictError(
                f"endpoint {name!r} uses aml_token auth; keys are regenerated only for "
                "auth_mode key (tokens expire by themselves: get a new one with get-credentials).",
                details={"field": "auth_mode"},
            )
        creds = self.credentials(name).regenerate(key_type)
        self._save_credentials(name, creds)
        return creds

    def _save_credentials(self, name: str, creds: EndpointCredentials) -> None:
        self._secrets.put_internal(_SECRET.format(name), json.dumps(creds.to_json()))

    # -- deployments ----------------------------------------------------------------------------
    def put_deployment(
        self, endpoint: str, spec: OnlineDeploymentSpec
    ) -> tuple[dict[str, Any], bool]:
        """Store the desired deployment with state Creating (or Updating)."""
        if spec.endpoint_name and spec.endpoint_name != endpoint:
            # 422 like any other field of the spec that cannot be processed.
            raise SpecError(
                f"the deployment names endpoint_name {spec.endpoint_name!r} but was sent to "
                f"endpoint {endpoint!r}; make them match.",
                details={"field": "endpoint_name"},
            )
        self._endpoint_record(endpoint)
        spec.endpoint_name = endpoint
        self._check_references(spec)
        key = _key(endpoint, spec.name)
        exists = any(r.name == key for r in self._deployment_records(endpoint))
        state = DeploymentState.UPDATING if exists else DeploymentState.CREATING
        stored = {**spec.to_stored(), "provisioning_state": state.value, "error": None}
        record, created = self._repo.put(_DEPLOYMENT, key, stored)
        return _deployment_view(record), created

    def _check_references(self, spec: OnlineDeploymentSpec) -> None:
        pinned = pin_references(self._assets, spec)
        code = pinned.get(AssetKind.CODE)
        if code is not None and spec.code_configuration is not None:
            self._check_script(code, spec.code_configuration.scoring_script)
        model = pinned.get(AssetKind.MODEL)
        # Azure's no-code deployment: an MLflow model needs neither a script nor an environment.
        mlflow = model is not None and model.spec.get("type") == AssetTypes.MLFLOW_MODEL
        if spec.code_configuration is None and not mlflow:
            raise SpecError(_NEEDS_CODE, details={"field": "code_configuration"})
        if spec.environment is None and (spec.code_configuration is not None or not mlflow):
            fix = _NEEDS_ENV_WITH_CODE if mlflow else _NEEDS_ENV
            raise SpecError(fix, details={"field": "environment"})

    def _check_script(self, record: Any, script: str) -> None:
        """Refuse now, not when replicas start, a scoring script that cannot work."""
        folder = self._assets.local_path(record)
        if folder is not None:
            check_scoring_script(folder, script, online=True)

    def deployment(self, endpoint: str, name: str) -> dict[str, Any]:
        return _deployment_view(self._deployment_record(endpoint, name))

    def deployment_spec(self, endpoint: str, name: str) -> OnlineDeploymentSpec:
        return _spec_of(self._deployment_record(endpoint, name).spec)

    def list_deployments(self, endpoint: str) -> builtins.list[dict[str, Any]]:
        self._endpoint_record(endpoint)
        return [_deployment_view(r) for r in self._deployment_records(endpoint)]

    def all_deployments(self) -> builtins.list[OnlineDeploymentSpec]:
        """Every deployment of every endpoint (what the server brings back on start)."""
        return [_spec_of(r.spec) for r in self._repo.all(_DEPLOYMENT)]

    def delete_deployment(self, endpoint: str, name: str) -> None:
        self._deployment_record(endpoint, name)
        spec = self.endpoint_spec(endpoint)
        for key in ("traffic", "mirror_traffic"):
            percent = (getattr(spec, key) or {}).get(name, 0)
            if percent:
                raise ConflictError(
                    f"deployment {name!r} takes {percent}% of the {key.replace('_', ' ')} of "
                    f"endpoint {endpoint!r}; set it to 0 first (ferry online-endpoint update "
                    f'--name {endpoint} --{key.replace("_", "-")} "{name}=0 ...").',
                    details={"field": key},
                )
        self._repo.delete(_DEPLOYMENT, _key(endpoint, name))

    def set_state(
        self, endpoint: str, name: str, state: DeploymentState, error: str | None = None
    ) -> None:
        """Record a deployment's provisioning state (no-op if it was deleted meanwhile)."""
        with contextlib.suppress(NotFoundError):
            record = self._repo.get(_DEPLOYMENT, _key(endpoint, name))
            changes = {"provisioning_state": state.value, "error": error}
            self._repo.put(_DEPLOYMENT, record.name, {**record.spec, **changes})

    def _deployment_record(self, endpoint: str, name: str) -> Any:
        self._endpoint_record(endpoint)
        return self._get(
            _DEPLOYMENT,
            _key(endpoint, name),
            f"online deployment {name!r} of endpoint {endpoint!r}",
            f"ferry online-deployment list --endpoint-name {endpoint}",
        )

    def _deployment_records(self, endpoint: str) -> builtins.list[Any]:
        prefix = _key(endpoint, "")
        return [r for r in self._repo.all(_DEPLOYMENT) if r.name.startswith(prefix)]

    def _get(self, kind: str, key: str, what: str, hint: str) -> Any:
        try:
            return self._repo.get(kind, key)
        except NotFoundError as exc:
            raise NotFoundError(f"{what} does not exist; list them with `{hint}`.") from exc


def _key(endpoint: str, deployment: str) -> str:
    return f"{endpoint}/{deployment}"


def _spec_of(stored: dict[str, Any]) -> OnlineDeploymentSpec:
    return OnlineDeploymentSpec.model_validate(
        {k: v for k, v in stored.items() if k not in _STATE_FIELDS}
    )


def _deployment_view(record: Any) -> dict[str, Any]:
    return {**record.spec, "created_at": record.created_at, "updated_at": record.updated_at}
